"""The rollout state machine: pure functions, no I/O, no clock (time arrives in the observation).

``start`` creates a state, ``step`` folds one observation window in and hands it to the mode's handler
(:mod:`~driftline.rollout.shadow`, :mod:`~driftline.rollout.canary`, :mod:`~driftline.rollout.ab`), ``promote`` and
``abort`` are the manual operations, ``traffic_for`` says what the routers should apply.

>>> from driftline.rollout.counters import Observation, VariantCounters
>>> from driftline.rollout.spec import RolloutSpec
>>> state = start(RolloutSpec(mode="ab", candidate_version="4"), now=0.0)
>>> step(state, Observation(now=1.0)).action.value, traffic_for(state, "3").candidate_weight
('HOLD', 0.5)
"""

from __future__ import annotations

from collections.abc import Callable

from driftline.core.errors import RolloutError
from driftline.rollout.ab import ab_step
from driftline.rollout.canary import canary_step
from driftline.rollout.checks import arms
from driftline.rollout.counters import Observation
from driftline.rollout.phases import TERMINAL_PHASES, Action, Phase
from driftline.rollout.shadow import shadow_step
from driftline.rollout.spec import RolloutMode, RolloutSpec
from driftline.rollout.state import Decision, RolloutState
from driftline.rollout.traffic import TrafficConfig, TrafficMode
from driftline.rollout.transition import decide, enter, require

__all__ = ["ACTIVE_PHASES", "abort", "promote", "start", "step", "traffic_for"]

ACTIVE_PHASES = frozenset({Phase.SHADOW, Phase.CANARY, Phase.AB_TEST})
_FIRST_PHASE = {RolloutMode.SHADOW: Phase.SHADOW, RolloutMode.CANARY: Phase.CANARY, RolloutMode.AB: Phase.AB_TEST}


def start(spec: RolloutSpec, now: float) -> RolloutState:
    """A new rollout in the first phase of ``spec.mode`` (the PENDING -> phase transition is recorded)."""
    pending = RolloutState(
        rollout_id=f"{spec.candidate_version}-{int(now * 1000)}",
        phase=Phase.PENDING,
        spec=spec,
        started_at=now,
        step_started_at=now,
    )
    first = _FIRST_PHASE[spec.mode]
    reason = f"started {spec.mode.value} rollout of version {spec.candidate_version}"
    return enter(pending, first, now, reason, {"spec": spec.model_dump(mode="json")}, step_index=0)


def step(state: RolloutState, observation: Observation) -> Decision:
    """Fold one observation window into the counters and decide what to do next."""
    if state.phase in TERMINAL_PHASES:
        return Decision(Action.HOLD, state, f"rollout already {state.phase.value}; nothing to do")
    if observation.now < state.step_started_at:
        raise RolloutError(
            f"Observation time {observation.now} is before the current step started ({state.step_started_at}).",
            "Pass a monotonic 'now' (Unix seconds) from the controller's clock.",
        )
    state = state.evolve(
        champion=state.champion + observation.champion,
        candidate=state.candidate + observation.candidate,
        champion_total=state.champion_total + observation.champion,
        candidate_total=state.candidate_total + observation.candidate,
    )
    overdue = _overdue(state, observation.now)
    if overdue is not None:
        return decide(Action.ROLLBACK, state, Phase.ROLLED_BACK, observation.now, overdue, arms(state))
    return _HANDLERS[state.phase](state, observation.now)


def _overdue(state: RolloutState, now: float) -> str | None:
    """Why a rollout must end now whatever its checks say: past its deadline, or a candidate that never answers."""
    spec = state.spec
    if now - state.started_at > spec.max_duration_seconds:
        elapsed = now - state.started_at
        return f"deadline: undecided after {elapsed:.0f} s > max_duration_seconds={spec.max_duration_seconds:g}"
    silent = now - state.step_started_at
    if state.candidate.requests == 0 and silent > spec.answer_timeout_seconds:
        return (
            f"candidate answered no request in {silent:.0f} s > answer_timeout_seconds="
            f"{spec.answer_timeout_seconds:g} (does version {spec.candidate_version} load?)"
        )
    return None


def promote(state: RolloutState, now: float, reason: str = "manual promote") -> Decision:
    """Operator promotion: the candidate takes all traffic and becomes champion."""
    require(state, ACTIVE_PHASES, "promote")
    new = enter(state, Phase.PROMOTED, now, reason, {"manual": True, **arms(state)})
    return Decision(Action.PROMOTE, new, reason, new.history[-1].evidence)


def abort(state: RolloutState, now: float, reason: str = "manual abort") -> Decision:
    """Operator abort: all traffic back to the champion."""
    require(state, ACTIVE_PHASES | {Phase.PENDING}, "abort")
    new = enter(state, Phase.ROLLED_BACK, now, reason, {"manual": True, **arms(state)})
    return Decision(Action.ROLLBACK, new, reason, new.history[-1].evidence)


def traffic_for(state: RolloutState, champion_version: str) -> TrafficConfig:
    """The traffic config for ``state``; after PROMOTED the candidate is the (only) champion."""
    spec, salt, rev = state.spec, state.spec.salt, state.revision
    cand = spec.candidate_version
    if state.phase is Phase.SHADOW:
        return TrafficConfig(champion_version, cand, TrafficMode.SHADOW, 0.0, state.shadow_fraction, salt, rev)
    if state.phase is Phase.CANARY:
        return TrafficConfig(champion_version, cand, TrafficMode.CANARY, state.candidate_weight, 0.0, salt, rev)
    if state.phase is Phase.AB_TEST:
        return TrafficConfig(champion_version, cand, TrafficMode.AB, state.candidate_weight, 0.0, salt, rev)
    if state.phase is Phase.PROMOTED:
        return TrafficConfig(cand, None, TrafficMode.NONE, 0.0, 0.0, salt, rev)
    return TrafficConfig(champion_version, None, TrafficMode.NONE, 0.0, 0.0, salt, rev)


def _pending(state: RolloutState, now: float) -> Decision:
    return Decision(Action.HOLD, state, "rollout not started; call start()")


_HANDLERS: dict[Phase, Callable[[RolloutState, float], Decision]] = {
    Phase.PENDING: _pending,
    Phase.SHADOW: shadow_step,
    Phase.CANARY: canary_step,
    Phase.AB_TEST: ab_step,
}
