"""Every number in a drift report is finite or null with a reason: degenerate inputs that used to raise
``ValueError: Out of range float values are not JSON compliant`` while writing ``report.json`` (a five-class model
that never predicts two rare classes makes the BBSE confusion matrix singular) give a whole, valid report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from driftline.datasets.schema import DatasetSchema, FeatureKind, FeatureSpec
from driftline.monitors.drift_config import DriftConfig
from driftline.monitors.engine_memory import summarize_frame
from driftline.monitors.label_shift import bbse_prior
from driftline.monitors.profile import build_reference_profile
from driftline.monitors.report import build_report
from driftline.monitors.report_schema import DriftReport

CLASSES = ("ant", "bee", "cat", "dog", "eel")  # string labels; "dog" and "eel" are rare and never predicted
SCHEMA = DatasetSchema(
    (FeatureSpec("x0", FeatureKind.NUMERIC), FeatureSpec("flat", FeatureKind.NUMERIC)),
    label="y",
    classes=CLASSES,
)
# rows = true, cols = predicted: nobody was ever predicted dog or eel on validation, so C is singular
SINGULAR = np.array([[400, 50, 10, 0, 0], [40, 300, 20, 0, 0], [10, 30, 200, 0, 0], [5, 5, 2, 0, 0], [3, 1, 1, 0, 0]])


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = rng.choice(CLASSES, n, p=[0.4, 0.3, 0.2, 0.06, 0.04])
    return pd.DataFrame({"x0": rng.normal(0, 1, n), "flat": np.full(n, 4.0), "y": labels})


@pytest.fixture(scope="module")
def profile():  # type: ignore[no-untyped-def]
    return build_reference_profile(_table(2_000, 0), SCHEMA, confusion_matrix=SINGULAR, baseline={"accuracy": 0.8})


def _window(n: int, seed: int, predicted: tuple[str, ...] = ("ant", "bee", "cat")) -> pd.DataFrame:
    frame = _table(n, seed)
    frame["prediction"] = np.random.default_rng(seed + 1).choice(predicted, n)
    return frame


def _valid(report: dict) -> dict:  # type: ignore[type-arg]
    text = json.dumps(report, allow_nan=False)  # raised ValueError before
    DriftReport.parse(json.loads(text))
    return report


def test_bbse_on_a_singular_confusion_matrix_says_why_it_is_not_used() -> None:
    est = bbse_prior(SINGULAR, np.array([300, 300, 400, 0, 0]))
    assert not est.identifiable and est.never_predicted == (3, 4)
    assert "never predicted class(es) dog, eel" in (est.note(CLASSES) or "")


@pytest.mark.parametrize(
    ("what", "window"),
    [
        ("singular confusion matrix, constant feature", lambda: _window(500, 1)),
        ("a window of one row", lambda: _window(1, 2)),
        ("a class absent from the window", lambda: _window(300, 3).query("y != 'cat'")),
        ("one predicted class only", lambda: _window(300, 4, predicted=("ant",))),
    ],
)
def test_a_degenerate_window_gives_a_whole_valid_report(profile, what: str, window) -> None:  # type: ignore[no-untyped-def]
    frame = window()
    report = _valid(build_report(profile, summarize_frame(frame, profile), DriftConfig()))
    shift = report["label_shift"]
    assert shift["bbse_condition_number"] is None  # it was inf (or BBSE did not run: too few predictions)
    if shift["estimated_prior"] is not None:
        assert "singular" in shift["bbse_note"] and shift["prior_source"] != "bbse"
    assert report["features"]["flat"]["testable"] is False and "constant" in report["features"]["flat"]["reason"]
    assert report["window"]["rows"] == len(frame)
    for entry in report["non_finite"]:
        assert entry["reason"] and entry["path"]


def test_a_non_finite_number_anywhere_is_null_and_listed(profile, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import driftline.monitors.report as report_module

    real = report_module.joint_drift_section

    def with_nan(*args, **kwargs):  # type: ignore[no-untyped-def]
        section = real(*args, **kwargs) or {}
        return {**section, "auc": float("nan")}

    monkeypatch.setattr(report_module, "joint_drift_section", with_nan)
    report = _valid(build_report(profile, summarize_frame(_window(500, 5), profile), DriftConfig()))
    assert report["joint_drift"]["auc"] is None
    assert [e["path"] for e in report["non_finite"]] == ["joint_drift.auc"]
