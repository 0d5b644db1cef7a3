"""Offline gates: boundaries, too-small holdouts, the unevaluated forgetting gate, and the JSON lineage tag."""

from __future__ import annotations

import json

import pytest

from driftline.train_jobs.cold_challenger import concept_changed, pick
from driftline.train_jobs.gates import beats_constant_gate, combine, forgetting_gate, not_worse_gate


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


@pytest.mark.parametrize(
    ("candidate", "constant", "metric", "passed"),
    [
        (0.40, 0.397, "accuracy", True),
        (0.356, 0.397, "accuracy", False),
        (1.9, 2.0, "rmse", True),
        (2.1, 2.0, "rmse", False),
    ],
)
def test_a_candidate_must_beat_the_constant_predictor(
    candidate: float, constant: float, metric: str, passed: bool
) -> None:
    g = beats_constant_gate(candidate, constant, "class 'b'", n=73, metric=metric)
    assert g.passed is passed and g.evidence["constant"] == constant and "always answering class 'b'" in g.reason
    assert not beats_constant_gate(0.9, 0.1, "class 'b'", n=5, min_rows=30).passed  # too few rows to vouch


def test_a_concept_change_is_a_fall_below_the_baseline() -> None:
    assert concept_changed(0.70, 0.81, "accuracy", 0.1) is not None
    assert concept_changed(0.72, 0.81, "accuracy", 0.1) is None
    assert concept_changed(0.5, None, "accuracy", 0.1) is None
    assert concept_changed(1.5, 1.0, "rmse", 0.25) is not None and concept_changed(1.2, 1.0, "rmse", 0.25) is None


def test_pick_keeps_the_warm_start_on_a_tie_and_reads_error_metrics_the_right_way() -> None:
    assert pick(0.8, 0.8, "accuracy", 100, "always")[0] is False
    cold_won, result = pick(2.0, 1.5, "rmse", 100, "always")
    assert cold_won and result.passed and result.evidence["winner"] == "cold"


def test_the_constant_predictor_is_the_training_rows_majority_class_or_mean() -> None:
    import numpy as np

    from driftline.datasets.synthetic import SYNTHETIC_SCHEMA, generate_stream
    from driftline.model.bundle import ModelBundle
    from driftline.model.preprocess import TabularPreprocessor
    from driftline.train_jobs.evaluate import constant_predictor

    frame, _ = generate_stream("label_shift", 4000, seed=0)  # P(y=1) 0.15, then 0.60 from the middle
    bundle = ModelBundle.create(TabularPreprocessor.fit(frame, SYNTHETIC_SCHEMA), (4,))
    train, holdout = frame.iloc[:1000], frame.iloc[3000:]
    constant = constant_predictor(bundle, train, holdout)
    assert constant.answer == "class 0" and constant.metric == "accuracy"
    assert constant.score == float(np.mean(holdout["y"].to_numpy() == 0))
