"""A retrained candidate is judged later against the level the task reached before the shift (finding 12)."""

from __future__ import annotations

import math

import numpy as np

from driftline.datasets import SYNTHETIC_SCHEMA, generate_stream
from driftline.monitors.profile import build_reference_profile
from driftline.train_jobs.evaluate import Evaluation
from driftline.train_jobs.retrain_window import baseline_before_shift


def accuracy_holdout(accuracy: float, n: int) -> Evaluation:
    return Evaluation(accuracy, n, np.zeros((2, 2), np.int64))


def regression_holdout(rmse: float, mae: float, n: int) -> Evaluation:
    return Evaluation(math.nan, n, np.zeros((0, 0), np.int64), rmse, mae)


class FakeRegistry:
    def __init__(self, baseline: dict[str, float]) -> None:
        frame, _ = generate_stream("stationary", n_rows=500, seed=0)
        self.profile = build_reference_profile(frame, SYNTHETIC_SCHEMA, baseline=baseline).to_json()

    def load_profile_json(self, model_uri: str) -> str:
        assert model_uri == "1"
        return self.profile


def test_a_retrain_on_few_rows_keeps_the_level_before_the_shift() -> None:
    parent = FakeRegistry({"accuracy": 0.81, "n": 1000.0})
    baseline = baseline_before_shift(parent, "1", accuracy_holdout(0.56, 68), trained_rows=272)  # type: ignore[arg-type]
    assert baseline == {"accuracy": 0.81, "n": 1000.0, "trained_rows": 272.0}


def test_a_retrain_that_beats_its_parent_raises_the_bar() -> None:
    parent = FakeRegistry({"accuracy": 0.70, "n": 1000.0})
    baseline = baseline_before_shift(parent, "1", accuracy_holdout(0.78, 750), trained_rows=3000)  # type: ignore[arg-type]
    assert baseline == {"accuracy": 0.78, "n": 750.0, "trained_rows": 3000.0}


def test_regression_keeps_the_lower_error_of_parent_and_holdout() -> None:
    parent = FakeRegistry({"rmse": 1.1, "mae": 0.9, "n": 1000.0})
    worse = baseline_before_shift(parent, "1", regression_holdout(2.5, 2.0, 60), trained_rows=240)  # type: ignore[arg-type]
    assert worse == {"rmse": 1.1, "mae": 0.9, "n": 1000.0, "trained_rows": 240.0}
    better = baseline_before_shift(parent, "1", regression_holdout(0.95, 0.7, 800), trained_rows=4000)  # type: ignore[arg-type]
    assert better == {"rmse": 0.95, "mae": 0.7, "n": 800.0, "trained_rows": 4000.0}
