"""Offline gates: boundaries, too-small holdouts, the unevaluated forgetting gate, and the JSON lineage tag."""

from __future__ import annotations

import json

import pytest

from driftline.train_jobs.gates import combine, forgetting_gate, not_worse_gate


@pytest.mark.parametrize(
    ("candidate", "champion", "margin", "passed"),
    [(0.80, 0.80, 0.0, True), (0.795, 0.80, 0.01, True), (0.789, 0.80, 0.01, False), (0.9, 0.5, 0.0, True)],
)
def test_not_worse_boundaries(candidate: float, champion: float, margin: float, passed: bool) -> None:
    g = not_worse_gate(candidate, champion, n=200, margin=margin)
    assert g.passed is passed
    assert g.evidence["delta"] == pytest.approx(candidate - champion)
    assert ("<" in g.reason) is (not passed)


def test_not_worse_refuses_tiny_holdout() -> None:
    g = not_worse_gate(0.9, 0.5, n=10, margin=0.01, min_rows=30)
    assert not g.passed and "only 10 rows" in g.reason


@pytest.mark.parametrize(("candidate", "passed"), [(0.80, True), (0.75, True), (0.7499, False), (0.95, True)])
def test_forgetting_boundaries(candidate: float, passed: bool) -> None:
    g = forgetting_gate(candidate, 0.80, n=300, max_drop=0.05)
    assert g.passed is passed
    assert g.evidence["evaluated"] is True
    assert g.evidence["drop"] == pytest.approx(0.80 - candidate)


def test_forgetting_without_older_data_passes_but_says_so() -> None:
    g = forgetting_gate(None, None, n=0, max_drop=0.05)
    assert g.passed and g.evidence["evaluated"] is False and "not evaluated" in g.reason


def test_combine_reports_every_failure_and_serialises() -> None:
    bad_recent = not_worse_gate(0.6, 0.8, n=100, margin=0.01)
    bad_old = forgetting_gate(0.5, 0.8, n=100, max_drop=0.05)
    report = combine([bad_recent, bad_old])
    assert not report.passed
    assert bad_recent.reason in report.reason and bad_old.reason in report.reason
    data = json.loads(report.to_json())
    assert [g["name"] for g in data["gates"]] == ["not_worse", "forgetting"]
    ok = combine([not_worse_gate(0.8, 0.8, 100, 0.0), forgetting_gate(None, None, 0, 0.05)])
    assert ok.passed and ok.reason.startswith("all gates passed")
