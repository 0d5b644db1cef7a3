"""A/B, tick by tick: promote, roll back, SRM guard, inconclusive at max samples, holds, fixed horizon."""

from __future__ import annotations

import numpy as np
import pytest

from driftline.rollout.counters import Observation, VariantCounters
from driftline.rollout.machine import start, step, traffic_for
from driftline.rollout.phases import Action, Phase
from driftline.rollout.spec import RolloutSpec
from driftline.rollout.state import Decision, RolloutState
from driftline.rollout.traffic import TrafficMode


def begin(**ab: object) -> RolloutState:
    spec = {"candidate_share": 0.5, "min_samples_per_arm": 200, "max_samples_per_arm": 20_000, **ab}
    return start(RolloutSpec(mode="ab", candidate_version="4", ab=spec), now=0.0)


def labelled(rng: np.random.Generator, n: int, accuracy: float) -> VariantCounters:
    return VariantCounters.from_samples([0.01] * n, labelled=n, correct=int(rng.binomial(n, accuracy)))


def run(
    state: RolloutState, champ_acc: float, cand_acc: float, seed: int, per_tick: int = 200, max_ticks: int = 200
) -> tuple[Decision, list[float]]:
    rng = np.random.default_rng(seed)
    p_values = []
    for tick in range(1, max_ticks + 1):
        obs = Observation(float(tick), labelled(rng, per_tick, champ_acc), labelled(rng, per_tick, cand_acc))
        d = step(state, obs)
        p_values.append(d.state.p_value)
        if d.action is not Action.HOLD:
            return d, p_values
        state = d.state
    raise AssertionError("no decision")


def test_ab_traffic_config() -> None:
    cfg = traffic_for(begin(candidate_share=0.2, salt="exp-9"), "3")
    assert (cfg.mode, cfg.candidate_weight, cfg.salt) == (TrafficMode.AB, 0.2, "exp-9")


def test_better_candidate_is_promoted_with_effect_and_ci() -> None:
    d, p_values = run(begin(), champ_acc=0.70, cand_acc=0.78, seed=1)
    assert d.action is Action.PROMOTE and d.state.phase is Phase.PROMOTED
    result = d.evidence["result"]
    assert result["test"] == "msprt" and result["p_value"] <= 0.05
    assert 0 < result["ci_low"] <= result["effect"] <= result["ci_high"]
    assert d.evidence["srm"]["significant"] is False
    assert p_values == sorted(p_values, reverse=True)  # always-valid p never increases


def test_worse_candidate_is_rolled_back() -> None:
    d, _ = run(begin(), champ_acc=0.78, cand_acc=0.70, seed=2)
    assert d.action is Action.ROLLBACK and d.reason.startswith("candidate worse")
    assert d.evidence["result"]["effect"] < 0


def test_sample_ratio_mismatch_rolls_back_even_a_better_candidate() -> None:
    state = begin()
    champ = VariantCounters.from_samples([0.01] * 600, labelled=600, correct=420)
    cand = VariantCounters.from_samples([0.01] * 400, labelled=400, correct=360)  # far better, but 40% not 50%
    d = step(state, Observation(1.0, champ, cand))
    assert d.action is Action.ROLLBACK and d.reason.startswith("sample ratio mismatch")
    assert d.evidence["srm"]["p_value"] < 0.001 and "result" not in d.evidence


def test_inconclusive_at_max_samples_keeps_the_champion() -> None:
    state = begin(max_samples_per_arm=2000)
    for tick in range(1, 11):
        same = VariantCounters.from_samples([0.01] * 200, labelled=200, correct=150)  # identical 75% every tick
        d = step(state, Observation(float(tick), same, same))
        state = d.state
        if tick < 10:
            assert d.action is Action.HOLD, tick
    assert d.action is Action.ROLLBACK and "inconclusive" in d.reason and "keeping the champion" in d.reason
    assert d.state.candidate_weight == 0.0


def test_holds_until_min_samples_even_with_a_large_effect() -> None:
    state = begin(min_samples_per_arm=500)
    champ = VariantCounters.from_samples([0.01] * 400, labelled=400, correct=200)
    cand = VariantCounters.from_samples([0.01] * 400, labelled=400, correct=390)
    d = step(state, Observation(1.0, champ, cand))
    assert d.action is Action.HOLD and "400/500" in d.reason
    d = step(d.state, Observation(2.0, champ, cand))
    assert d.action is Action.PROMOTE


def test_fixed_horizon_test_looks_once_at_max_samples() -> None:
    state = begin(test="fixed", max_samples_per_arm=1000)
    rng = np.random.default_rng(5)
    for tick in range(1, 5):
        d = step(state, Observation(float(tick), labelled(rng, 250, 0.6), labelled(rng, 250, 0.8)))
        state = d.state
        assert (d.action is Action.HOLD) == (tick < 4)
    assert d.action is Action.PROMOTE and d.evidence["result"]["test"] == "two_proportion_z"


@pytest.mark.parametrize("test", ["msprt", "fixed"])
def test_latency_metric_promotes_a_faster_candidate(test: str) -> None:
    rng = np.random.default_rng(9)
    state = begin(metric="latency", test=test, max_samples_per_arm=2000)
    for tick in range(1, 11):
        champ = VariantCounters.from_samples(rng.lognormal(np.log(0.020), 0.3, 200))
        cand = VariantCounters.from_samples(rng.lognormal(np.log(0.017), 0.3, 200))
        d = step(state, Observation(float(tick), champ, cand))
        if d.action is not Action.HOLD:
            break
        state = d.state
    assert d.action is Action.PROMOTE and d.evidence["result"]["effect"] < 0
    assert d.evidence["mann_whitney"]["effect"] < 0  # candidate tends to be faster


def test_error_rate_metric_rolls_back_a_failing_candidate() -> None:
    state = begin(metric="error_rate")
    champ = VariantCounters.from_samples([0.01] * 1000, errors=10)
    cand = VariantCounters.from_samples([0.01] * 1000, errors=60)
    d = step(state, Observation(1.0, champ, cand))
    assert d.action is Action.ROLLBACK and d.reason.startswith("candidate worse")
