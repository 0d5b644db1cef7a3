"""State machine structure, manual operations, invalid operations, counters and JSON round trip."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from driftline.core.errors import RolloutError
from driftline.rollout.counters import LatencyHistogram, Observation, VariantCounters
from driftline.rollout.machine import abort, promote, start, step, traffic_for
from driftline.rollout.phases import TERMINAL_PHASES, TRANSITIONS, Action, Phase
from driftline.rollout.spec import RolloutSpec
from driftline.rollout.store import state_from_dict
from driftline.rollout.traffic import TrafficMode

SPECS = {
    "shadow": RolloutSpec(mode="shadow", candidate_version="4"),
    "canary": RolloutSpec(mode="canary", candidate_version="4"),
    "ab": RolloutSpec(mode="ab", candidate_version="4"),
}


def test_transition_table_is_closed_and_every_phase_can_finish() -> None:
    assert set(TRANSITIONS) == set(Phase)
    assert {Phase.PROMOTED, Phase.ROLLED_BACK} == TERMINAL_PHASES
    for phase in Phase:
        seen, frontier = {phase}, [phase]
        while frontier:
            for nxt in TRANSITIONS[frontier.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        assert seen & TERMINAL_PHASES, phase


@pytest.mark.parametrize(("mode", "phase"), [("shadow", Phase.SHADOW), ("canary", Phase.CANARY), ("ab", Phase.AB_TEST)])
def test_start_enters_the_declared_mode(mode: str, phase: Phase) -> None:
    state = start(SPECS[mode], now=5.0)
    assert state.phase is phase and state.started_at == state.step_started_at == 5.0
    first = state.history[0]
    assert (first.from_phase, first.to_phase) == (Phase.PENDING, phase) and "started" in first.reason


@pytest.mark.parametrize("mode", ["shadow", "canary", "ab"])
def test_manual_promote_and_abort(mode: str) -> None:
    state = start(SPECS[mode], now=0.0)
    d = promote(state, now=3.0, reason="looks good to me")
    assert (d.action, d.state.phase, d.state.candidate_weight) == (Action.PROMOTE, Phase.PROMOTED, 1.0)
    assert d.state.history[-1].reason == "looks good to me" and d.evidence["manual"] is True
    d = abort(state, now=3.0)
    assert (d.action, d.state.phase, d.state.candidate_weight) == (Action.ROLLBACK, Phase.ROLLED_BACK, 0.0)
    assert traffic_for(d.state, "3").mode is TrafficMode.NONE
    for t in d.state.history:
        assert t.to_phase in TRANSITIONS[t.from_phase]


def test_invalid_operations_say_the_phase_and_what_is_allowed() -> None:
    done = promote(start(SPECS["canary"], now=0.0), now=1.0).state
    with pytest.raises(RolloutError, match=r"phase PROMOTED.*allowed in phases: AB_TEST, CANARY, SHADOW"):
        promote(done, now=2.0)
    with pytest.raises(RolloutError, match=r"Cannot abort .* phase PROMOTED"):
        abort(done, now=2.0)
    rolled_back = abort(start(SPECS["ab"], now=0.0), now=1.0).state
    with pytest.raises(RolloutError, match="phase ROLLED_BACK"):
        promote(rolled_back, now=2.0)


def test_step_on_a_finished_rollout_holds_unchanged() -> None:
    done = abort(start(SPECS["ab"], now=0.0), now=1.0).state
    d = step(done, Observation(now=9.0, champion=VariantCounters.from_samples([0.01] * 10)))
    assert d.action is Action.HOLD and d.state is done and "already ROLLED_BACK" in d.reason


def test_observation_before_the_step_started_is_refused() -> None:
    with pytest.raises(RolloutError, match="monotonic"):
        step(start(SPECS["canary"], now=100.0), Observation(now=99.0))


def test_traffic_for_each_phase() -> None:
    modes = {"shadow": TrafficMode.SHADOW, "canary": TrafficMode.CANARY, "ab": TrafficMode.AB}
    for name, spec in SPECS.items():
        cfg = traffic_for(start(spec, now=0.0), "3")
        assert (cfg.champion_version, cfg.candidate_version, cfg.mode) == ("3", "4", modes[name])
        assert cfg.salt == "rollout:4"


def test_state_json_round_trip() -> None:
    rng = np.random.default_rng(0)
    state = start(SPECS["canary"], now=0.0)
    win = VariantCounters.from_samples(rng.lognormal(-4, 0.5, 300), errors=3, labelled=50, correct=40)
    state = step(state, Observation(10.0, win, win)).state
    state = abort(state, now=11.0, reason="operator").state
    again = state_from_dict(json.loads(json.dumps(state.to_dict())))
    assert again == state


def test_histogram_quantiles_are_within_the_documented_bin_error() -> None:
    rng = np.random.default_rng(4)
    samples = rng.lognormal(np.log(0.05), 1.0, 20_000)
    hist = LatencyHistogram.from_samples(samples)
    for q in (0.5, 0.9, 0.99):
        exact = float(np.quantile(samples, q, method="inverted_cdf"))
        assert abs(hist.quantile(q) / exact - 1) <= math.sqrt(1.1) - 1 + 1e-9, q
    assert math.isnan(LatencyHistogram().quantile(0.5))
    assert LatencyHistogram.from_samples([1e-6]).quantile(0.5) == 1e-4  # underflow reads as the lowest edge
    assert LatencyHistogram.from_samples([600.0]).quantile(0.5) == pytest.approx(60.0, rel=0.1)  # overflow


def test_counters_add_and_derive_exact_moments() -> None:
    a = VariantCounters.from_samples([0.1, 0.2, 0.3], errors=1)
    b = VariantCounters.from_samples([0.4], labelled=1, correct=1)
    total = a + b
    assert (total.requests, total.errors, total.labelled, total.latency_n) == (4, 1, 1, 4)
    assert total.latency_mean == pytest.approx(0.25)
    assert total.latency_var == pytest.approx(np.var([0.1, 0.2, 0.3, 0.4], ddof=1))
    with pytest.raises(RolloutError, match="errors <= requests"):
        VariantCounters(requests=1, errors=2)


def test_a_candidate_that_never_answers_is_rolled_back_after_the_answer_timeout() -> None:
    spec = RolloutSpec(mode="shadow", candidate_version="9", answer_timeout_seconds=300)
    state = start(spec, now=0.0)
    busy_champion = VariantCounters.from_samples([0.01] * 50)
    held = step(state, Observation(now=299.0, champion=busy_champion))
    assert held.action is Action.HOLD
    gone = step(held.state, Observation(now=301.0, champion=busy_champion))
    assert gone.action is Action.ROLLBACK and gone.state.phase is Phase.ROLLED_BACK
    assert "answered no request" in gone.reason and "version 9" in gone.reason


def test_an_undecided_rollout_is_rolled_back_at_its_deadline() -> None:
    spec = RolloutSpec(
        mode="ab",
        candidate_version="9",
        max_duration_seconds=3600,
        ab={"min_samples_per_arm": 10**6, "max_samples_per_arm": 10**6},
    )
    state = start(spec, now=0.0)
    arm = VariantCounters.from_samples([0.01] * 100)
    for now in (1000.0, 2000.0, 3000.0):
        decision = step(state, Observation(now=now, champion=arm, candidate=arm))
        assert decision.action is Action.HOLD
        state = decision.state
    final = step(state, Observation(now=3601.0, champion=arm, candidate=arm))
    assert final.action is Action.ROLLBACK and final.reason.startswith("deadline")
