"""A retrained candidate is judged later against the level the task reached before the shift (finding 12)."""

from __future__ import annotations

from driftline.datasets import SYNTHETIC_SCHEMA, generate_stream
from driftline.monitors.profile import build_reference_profile
from driftline.train_jobs.retrain_window import baseline_before_shift


class FakeRegistry:
    def __init__(self, baseline: dict[str, float]) -> None:
        frame, _ = generate_stream("stationary", n_rows=500, seed=0)
        self.profile = build_reference_profile(frame, SYNTHETIC_SCHEMA, baseline=baseline).to_json()

    def load_profile_json(self, model_uri: str) -> str:
        assert model_uri == "1"
        return self.profile


def test_a_retrain_on_few_rows_keeps_the_level_before_the_shift() -> None:
    parent = FakeRegistry({"accuracy": 0.81, "n": 1000.0})
    baseline = baseline_before_shift(parent, "1", holdout_accuracy=0.56, holdout_n=68, trained_rows=272)  # type: ignore[arg-type]
    assert baseline == {"accuracy": 0.81, "n": 1000.0, "trained_rows": 272.0}


def test_a_retrain_that_beats_its_parent_raises_the_bar() -> None:
    parent = FakeRegistry({"accuracy": 0.70, "n": 1000.0})
    baseline = baseline_before_shift(parent, "1", holdout_accuracy=0.78, holdout_n=750, trained_rows=3000)  # type: ignore[arg-type]
    assert baseline == {"accuracy": 0.78, "n": 750.0, "trained_rows": 3000.0}
