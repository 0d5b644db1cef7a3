"""Backtest: test-then-train bookkeeping, computed baselines, and the triggered policy timing on a seeded stream."""

from __future__ import annotations

import numpy as np
import pytest

from driftline.core.errors import ConfigError
from driftline.platform.backtest import backtest_policy, baselines, load_backtest_stream, run_backtest
from driftline.train_jobs.retrain_config import RetrainConfig

WINDOW = 250
CFG = RetrainConfig(
    backtest={"window_rows": WINDOW, "initial_rows": 1000, "train_rows": 1000, "cold_epochs": 6, "warm_epochs": 3}
)


@pytest.fixture(scope="module")
def drift_stream():
    return load_backtest_stream("concept_drift", n_rows=5000, seed=7)


def test_triggered_retrains_soon_after_the_change_and_not_before(drift_stream) -> None:
    (change,) = drift_stream.change_points
    rows = run_backtest(drift_stream, ["triggered"], ["cold", "warm"], CFG)
    for row in rows:
        assert row["retrain_at"], f"{row['variant']}: never retrained"
        first = row["retrain_at"][0]
        assert first > change, f"{row['variant']}: retrained at {first}, before the change at {change}"
        # Found in the first window that ends after the change (row 2,750 for the change at 2,500).
        assert first <= change + WINDOW, f"{row['variant']}: first retrain {first} is late (change {change})"


def test_periodic_and_never_bookkeeping(drift_stream) -> None:
    rows = run_backtest(drift_stream, ["never", "periodic"], ["cold", "warm"], CFG, with_baselines=True)
    by = {(r["policy"], r["variant"]): r for r in rows}
    n_windows = int(np.ceil((5000 - 1000) / WINDOW))
    assert by["never", "cold"]["retrains"] == 0
    assert by["never", "warm"]["accuracy"] == by["never", "cold"]["accuracy"]  # never trains once
    assert by["periodic", "cold"]["retrains"] == n_windows
    assert by["periodic", "cold"]["retrain_at"][0] == 1000 + WINDOW
    for r in rows:
        assert {
            "policy",
            "variant",
            "accuracy",
            "retrains",
            "train_seconds",
            "accuracy_over_time",
            "retrain_at",
        } <= set(r)
        if r["policy"] != "baseline":
            assert len(r["accuracy_over_time"]) == n_windows
            assert r["evaluated_rows"] == 4000
            weighted = sum(a * min(WINDOW, 5000 - (end - WINDOW)) for end, a in r["accuracy_over_time"]) / 4000
            assert r["accuracy"] == pytest.approx(weighted)
    # Retraining after a concept flip must beat a frozen model.
    assert by["periodic", "cold"]["accuracy"] > by["never", "cold"]["accuracy"] + 0.1


def test_baselines_are_computed_from_the_labels(drift_stream) -> None:
    y = drift_stream.frame["y"].to_numpy()
    prev, majority = baselines(drift_stream, first_row=1000)
    assert prev["accuracy"] == pytest.approx(float(np.mean(y[1000:] == y[999:-1])))
    assert prev["accuracy_whole_stream"] == pytest.approx(float(np.mean(y[1:] == y[:-1])))
    assert majority["accuracy"] == pytest.approx(max(np.mean(y[1000:]), 1 - np.mean(y[1000:])))


def test_bad_names_and_sizes_are_config_errors(drift_stream) -> None:
    with pytest.raises(ConfigError, match="policies"):
        run_backtest(drift_stream, ["weekly"], ["cold"], CFG)
    with pytest.raises(ConfigError, match="variants"):
        run_backtest(drift_stream, ["never"], ["hot"], CFG)
    with pytest.raises(ConfigError, match="stream"):
        load_backtest_stream("nope")
    big = RetrainConfig(backtest={"initial_rows": 5000})
    with pytest.raises(ConfigError, match="initial_rows"):
        run_backtest(drift_stream, ["never"], ["cold"], big)


def test_backtest_policy_scales_guards_to_the_window() -> None:
    p = backtest_policy("periodic", CFG.backtest)
    assert p.periodic.every_rows == WINDOW
    assert p.guards.min_new_labelled_rows == WINDOW
    assert p.guards.cooldown.total_seconds() < WINDOW * CFG.backtest.row_seconds
