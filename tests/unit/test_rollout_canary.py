"""Canary, tick by tick: advance through every step to promotion; abort on errors, latency or quality."""

from __future__ import annotations

from driftline.rollout.counters import Observation, VariantCounters
from driftline.rollout.machine import start, step, traffic_for
from driftline.rollout.phases import TRANSITIONS, Action, Phase
from driftline.rollout.spec import RolloutSpec
from driftline.rollout.state import RolloutState
from driftline.rollout.traffic import TrafficMode

CANARY = {
    "steps": [0.1, 0.5, 1.0],
    "min_requests_per_step": 100,
    "min_seconds_per_step": 30,
    "max_error_rate_increase": 0.02,
    "max_p99_latency_ratio": 1.5,
    "min_quality_delta": -0.02,
    "min_labelled": 200,
    "max_failed_checks": 1,
}


def window(n: int, errors: int = 0, latency: float = 0.010, labelled: int = 0, correct: int = 0) -> VariantCounters:
    return VariantCounters.from_samples([latency] * n, errors=errors, labelled=labelled, correct=correct)


def begin(**overrides: object) -> RolloutState:
    return start(RolloutSpec(mode="canary", candidate_version="4", canary={**CANARY, **overrides}), now=1000.0)


def assert_history_valid(state: RolloutState) -> None:
    for t in state.history:
        assert t.to_phase in TRANSITIONS[t.from_phase], (t.from_phase, t.to_phase)


def test_healthy_candidate_advances_through_every_step_and_is_promoted() -> None:
    state = begin()
    assert (state.phase, state.candidate_weight) == (Phase.CANARY, 0.1)
    assert traffic_for(state, "3").mode is TrafficMode.CANARY

    # Enough requests but too little time: hold.
    d = step(state, Observation(1010.0, window(900), window(100)))
    assert d.action is Action.HOLD and "10/30 s" in d.reason
    d = step(d.state, Observation(1031.0, window(900), window(100)))
    assert (d.action, d.state.candidate_weight, d.state.step_index) == (Action.ADVANCE, 0.5, 1)
    assert d.state.candidate.requests == 0  # counters restart with the step

    # Enough time but too few requests: hold.
    d = step(d.state, Observation(1070.0, window(50), window(50)))
    assert d.action is Action.HOLD and "50/100 requests" in d.reason
    d = step(d.state, Observation(1075.0, window(100), window(100)))
    assert (d.action, d.state.candidate_weight) == (Action.ADVANCE, 1.0)
    assert traffic_for(d.state, "3").candidate_weight == 1.0

    # At 100% the champion serves nobody: its canary totals are the baseline.
    d = step(d.state, Observation(1110.0, VariantCounters(), window(300)))
    assert d.action is Action.PROMOTE and d.state.phase is Phase.PROMOTED
    assert d.evidence["champion_baseline"] == "canary_total"
    cfg = traffic_for(d.state, "3")
    assert (cfg.champion_version, cfg.candidate_version, cfg.mode) == ("4", None, TrafficMode.NONE)

    weights = [t.evidence.get("weight") for t in d.state.history[1:]]
    assert weights == [0.1, 0.5, 1.0]  # monotone up
    assert [t.to_phase for t in d.state.history] == [Phase.CANARY] * 3 + [Phase.PROMOTED]
    assert_history_valid(d.state)


def test_error_rate_increase_counts_failures_then_rolls_back() -> None:
    state = begin()
    d = step(state, Observation(1031.0, window(900, errors=9), window(100, errors=20)))
    assert d.action is Action.HOLD and d.state.failed_checks == 1
    assert "error_rate_increase 0.19" in d.reason
    assert d.state.candidate.requests == 0 and d.state.step_started_at == 1031.0  # window restarted
    assert d.state.history[-1].from_phase is d.state.history[-1].to_phase is Phase.CANARY

    d = step(d.state, Observation(1040.0, window(900), window(100, errors=20)))
    assert d.action is Action.HOLD  # not yet 30 s into the restarted window
    d = step(d.state, Observation(1062.0, window(900), window(100, errors=20)))
    assert d.action is Action.ROLLBACK and d.state.phase is Phase.ROLLED_BACK
    assert d.state.candidate_weight == 0.0 and "after 2 failed checks" in d.reason
    assert traffic_for(d.state, "3").mode is TrafficMode.NONE
    assert_history_valid(d.state)


def test_latency_regression_aborts() -> None:
    d = step(begin(max_failed_checks=0), Observation(1031.0, window(900, latency=0.010), window(100, latency=0.050)))
    assert d.action is Action.ROLLBACK and "p99_latency_ratio" in d.reason
    ratio = next(c for c in d.evidence["checks"] if c["name"] == "p99_latency_ratio")["observed"]
    assert 4.5 < ratio < 5.5  # 5x, read from the histogram within its bin error


def test_quality_failure_aborts_when_labels_show_a_worse_candidate() -> None:
    champ = window(900, labelled=400, correct=360)  # 90% accurate
    cand = window(400, labelled=400, correct=280)  # 70% accurate
    d = step(begin(max_failed_checks=0), Observation(1031.0, champ, cand))
    assert d.action is Action.ROLLBACK and "accuracy delta -0.2000" in d.reason
    quality = next(c for c in d.evidence["checks"] if c["name"] == "quality_delta_ci_high")
    assert quality["observed"] < -0.02 and not quality["passed"]


def test_quality_within_margin_passes_and_few_labels_are_skipped() -> None:
    champ = window(900, labelled=400, correct=360)
    d = step(begin(), Observation(1031.0, champ, window(400, labelled=400, correct=354)))
    assert d.action is Action.ADVANCE  # -1.5 points, CI reaches above the -2 point margin
    d = step(begin(), Observation(1031.0, champ, window(400, labelled=50, correct=10)))
    assert d.action is Action.ADVANCE
    quality = next(c for c in d.evidence["checks"] if c["name"] == "quality_delta_ci_high")
    assert quality["note"].startswith("skipped")


def test_one_failed_check_then_recovery_keeps_advancing() -> None:
    d = step(begin(), Observation(1031.0, window(900), window(100, errors=10)))
    assert d.state.failed_checks == 1
    d = step(d.state, Observation(1062.0, window(900), window(100)))
    assert d.action is Action.ADVANCE and d.state.failed_checks == 1 and d.state.candidate_weight == 0.5
