"""Regression's pure logic with known answers: error-metric decay with intervals, relative gates, the canary's
absolute-error non-inferiority, A/B on absolute error, float feedback, the policy's relative trigger, the synthetic
regression scenarios' ground truth and the backtest's RMSE rows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from driftline.monitors.drift_config import PerformanceConfig
from driftline.monitors.performance import regression_performance_section
from driftline.monitors.summaries import ResidualSummary
from driftline.platform.policy_config import TriggerConfig
from driftline.platform.policy_signals import read_signals
from driftline.rollout.ab import ABSpec
from driftline.rollout.canary import CanarySpec, canary_checks
from driftline.rollout.counters import Observation, VariantCounters
from driftline.rollout.machine import start, step
from driftline.rollout.spec import RolloutSpec
from driftline.serve_apps.feedback import parse_feedback
from driftline.serve_apps.payload import PayloadError
from driftline.train_jobs.gates import forgetting_gate, not_worse_gate

BASELINE = {"rmse": 1.0, "mae": math.sqrt(2 / math.pi), "n": 1000.0}  # N(0, 1) errors: MAE = sqrt(2/pi)


def errors(sd: float, n: int, seed: int = 0) -> ResidualSummary:
    return ResidualSummary.from_errors(np.random.default_rng(seed).normal(0.0, sd, n))


def test_residual_sums_add_up_across_blocks() -> None:
    e = np.random.default_rng(1).normal(0, 2, 1000)
    merged = ResidualSummary.from_errors(e[:300]).merge(ResidualSummary.from_errors(e[300:]))
    assert merged.n == 1000 and math.isclose(merged.rmse, float(np.sqrt(np.mean(e**2))))
    assert math.isclose(merged.mae, float(np.abs(e).mean())) and math.isclose(
        merged.abs_var, float(np.abs(e).var(ddof=1))
    )


def test_an_unchanged_model_is_not_called_decayed_and_its_interval_covers_the_truth() -> None:
    covered = 0
    for seed in range(40):
        sec = regression_performance_section(BASELINE, errors(1.0, 2000, seed), PerformanceConfig())
        assert sec is not None and not sec["decayed"]
        covered += sec["ci_low"] <= 1.0 <= sec["ci_high"]
    assert covered >= 34  # a 95% interval: ~38 of 40 expected, 34 allows sampling noise


def test_a_doubled_error_is_decay_on_both_metrics_with_intervals_around_the_new_level() -> None:
    sec = regression_performance_section(BASELINE, errors(2.0, 1000), PerformanceConfig())
    assert sec is not None and sec["metric"] == "rmse" and sec["decayed"] and sec["p_value"] < 1e-12
    assert sec["ci_low"] < 2.0 < sec["ci_high"] and sec["ci_low"] > 1.0
    mae = sec["metrics"]["mae"]
    assert mae["decayed"] and mae["ci_low"] < 2 * BASELINE["mae"] < mae["ci_high"]
    assert sec["metrics"]["rmse"]["relative_increase"] == pytest.approx(1.0, abs=0.1)


def test_a_small_rise_or_few_rows_is_not_decay_and_says_why() -> None:
    small = regression_performance_section(BASELINE, errors(1.05, 20_000), PerformanceConfig())
    assert small is not None and small["p_value"] < 0.05 and not small["decayed"]  # +5% < min_relative_increase 10%
    few = regression_performance_section(BASELINE, errors(3.0, 20), PerformanceConfig())
    assert few is not None and not few["decayed"] and "only 20 labelled rows" in few["reason"]
    assert regression_performance_section({"accuracy": 0.9}, errors(1.0, 100), PerformanceConfig()) is None
    headline = regression_performance_section(BASELINE, errors(2.0, 500), PerformanceConfig(regression_metric="mae"))
    assert headline is not None and headline["metric"] == "mae"


def test_gates_on_rmse_are_relative_to_the_champion() -> None:
    assert not_worse_gate(1.04, 1.0, 400, margin=0.05, metric="rmse").passed
    failed = not_worse_gate(1.10, 1.0, 400, margin=0.05, metric="rmse")
    assert not failed.passed and "rmse 1.100 > champion 1.000" in failed.reason
    assert forgetting_gate(1.2, 1.0, 300, max_drop=0.25, metric="rmse").passed
    lost = forgetting_gate(1.5, 1.0, 300, max_drop=0.25, metric="rmse")
    assert not lost.passed and "grew +50.0% > 25.0%" in lost.reason


def mae_check(spec: CanarySpec, candidate: VariantCounters, champion: VariantCounters):
    return next(c for c in canary_checks(spec, candidate, champion) if c.name == "mae_increase_ci_low")


def arm(mae: float, n: int, seed: int, requests: int = 400) -> VariantCounters:
    abs_errors = np.abs(np.random.default_rng(seed).normal(0, mae * math.sqrt(math.pi / 2), n))
    return VariantCounters.from_samples([0.01] * requests, abs_errors=abs_errors.tolist())


def test_canary_quality_is_non_inferiority_on_absolute_error() -> None:
    spec = CanarySpec(min_labelled=100, max_mae_increase=0.05)
    champion = arm(1.0, 2000, seed=1)
    better = mae_check(spec, arm(0.8, 2000, seed=2), champion)
    assert better.passed and better.observed < 0 and "MAE" in better.note
    worse = mae_check(spec, arm(1.3, 2000, seed=3), champion)
    assert not worse.passed and worse.observed > worse.limit
    few = mae_check(spec, arm(3.0, 20, seed=4), champion)
    assert few.passed and "skipped" in few.note  # too few labels: not judged yet
    names = [c.name for c in canary_checks(spec, arm(1.0, 500, 5), champion)]
    assert "quality_delta_ci_high" not in names  # no accuracy check on a regression model's arms


@pytest.mark.parametrize(("candidate_mae", "action"), [(0.7, "PROMOTE"), (1.4, "ROLLBACK")])
def test_ab_decides_on_absolute_error_for_a_regression_model(candidate_mae: float, action: str) -> None:
    spec = RolloutSpec(mode="ab", candidate_version="2", ab=ABSpec(min_samples_per_arm=100, salt="s"))
    state = start(spec, now=0.0)
    obs = Observation(now=10.0, champion=arm(1.0, 1500, 6, 1500), candidate=arm(candidate_mae, 1500, 7, 1500))
    decision = step(state, obs)
    assert decision.action.value == action, decision.reason
    assert decision.reason.split(": ")[1].startswith("abs_error effect")  # the default metric reads as abs_error


def test_float_feedback_for_regression_and_clear_refusals() -> None:
    items, single = parse_feedback({"request_id": "r", "label": 3}, (), regression=True)
    assert single and items[0]["label"] == 3.0 and isinstance(items[0]["label"], float)
    for bad in (True, "12.5", None, math.inf):
        with pytest.raises(PayloadError, match="finite number"):
            parse_feedback({"request_id": "r", "label": bad}, (), regression=True)


def test_the_policy_reads_either_error_metric_as_a_relative_rise() -> None:
    report = {
        "performance": {
            "metric": "rmse",
            "baseline": 2.0,
            "current": 2.06,
            "p_value": 0.02,
            "metrics": {"mae": {"baseline": 1.6, "current": 2.4, "p_value": 1e-9, "ci_low": 2.2, "ci_high": 2.6}},
        }
    }
    quiet = read_signals(report, False, TriggerConfig())
    assert "performance" not in quiet.fired and "rmse moved" not in quiet.quiet[0] and "(+3%)" in quiet.quiet[0]
    fired = read_signals(report, False, TriggerConfig(performance_metric="mae")).fired["performance"]
    assert fired.startswith("mae decayed 1.60 -> 2.40 (+50%)") and "rise 50% >= 5%" in fired


def test_regression_scenarios_move_what_their_ground_truth_says() -> None:
    from driftline.datasets.synthetic import generate_stream

    def x0_effect(frame) -> float:
        x = np.column_stack([frame[c] for c in ("x0", "x1", "x2")] + [np.ones(len(frame))])
        return float(np.linalg.lstsq(x, frame["y"].to_numpy(), rcond=None)[0][0])

    concept, truth = generate_stream("regression_concept_drift", 8000, seed=2)
    assert truth.change_points == [4000] and concept["y"].dtype == np.float64
    assert x0_effect(concept.iloc[:4000]) == pytest.approx(3.0, abs=0.2)
    assert x0_effect(concept.iloc[4000:]) == pytest.approx(-3.0, abs=0.2)
    assert abs(concept["x0"].iloc[4000:].mean() - concept["x0"].iloc[:4000].mean()) < 0.1  # P(X) fixed
    covariate, truth = generate_stream("regression_covariate_shift", 8000, seed=2)
    assert truth.shifted_features == ["x0", "x2", "region"]
    assert covariate["x0"].iloc[4000:].mean() - covariate["x0"].iloc[:4000].mean() == pytest.approx(1.5, abs=0.1)
    assert x0_effect(covariate.iloc[:4000]) == pytest.approx(x0_effect(covariate.iloc[4000:]), abs=0.8)


def test_a_regression_backtest_reports_rmse_and_mae_per_policy() -> None:
    from driftline.platform.backtest import load_backtest_stream, run_backtest
    from driftline.platform.backtest_report import markdown_table
    from driftline.train_jobs.retrain_config import RetrainConfig

    stream = load_backtest_stream("regression_concept_drift", n_rows=3000, seed=3)
    cfg = RetrainConfig(backtest={"window_rows": 500, "initial_rows": 1000, "train_rows": 1000, "cold_epochs": 4})
    rows = run_backtest(stream, ["never", "triggered"], ["warm"], cfg, with_baselines=True)
    never, triggered = rows[0], rows[1]
    assert "accuracy" not in never and never["rmse"] > never["mae"] > 0
    assert triggered["retrain_at"] and triggered["retrain_at"][0] == 2000  # the first window after the change at 1500
    assert triggered["rmse"] < never["rmse"]
    assert [r["variant"] for r in rows[2:]] == ["previous_label", "training_mean"]
    assert markdown_table(rows).splitlines()[0] == "| policy | variant | RMSE | MAE | retrains | train s |"
