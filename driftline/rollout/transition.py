"""Moving a rollout between phases: every move is checked against the transition table and recorded.

>>> from driftline.rollout.spec import RolloutSpec
>>> from driftline.rollout.phases import Phase
>>> pending = RolloutState("4-0", Phase.PENDING, RolloutSpec(mode="canary", candidate_version="4"), 0.0, 0.0)
>>> enter(pending, Phase.CANARY, 1.0, "started", {}).candidate_weight
0.05
"""

from __future__ import annotations

from typing import Any

from driftline.core.errors import RolloutError
from driftline.rollout.checks import json_safe
from driftline.rollout.counters import VariantCounters
from driftline.rollout.phases import TRANSITIONS, Action, Phase
from driftline.rollout.state import Decision, RolloutState, Transition

__all__ = ["decide", "enter", "require"]


def enter(
    state: RolloutState,
    to: Phase,
    now: float,
    reason: str,
    evidence: dict[str, Any],
    *,
    step_index: int | None = None,
    failed_checks: int | None = None,
) -> RolloutState:
    """Record a transition and reset the window; weights follow from the new phase and step."""
    if to not in TRANSITIONS[state.phase]:
        allowed = sorted(p.value for p in TRANSITIONS[state.phase]) or ["nothing (terminal)"]
        raise RolloutError(
            f"Transition {state.phase.value} -> {to.value} is not allowed.",
            f"From {state.phase.value} the allowed phases are: {', '.join(allowed)}.",
        )
    spec, index = state.spec, state.step_index if step_index is None else step_index
    weight, shadow = 0.0, 0.0
    if to is Phase.SHADOW and spec.shadow is not None:
        shadow = spec.shadow.fraction
    elif to is Phase.CANARY and spec.canary is not None:
        weight = spec.canary.steps[index]
    elif to is Phase.AB_TEST and spec.ab is not None:
        weight = spec.ab.candidate_share
    elif to is Phase.PROMOTED:
        weight = 1.0
    fresh = VariantCounters()
    new_phase = to is not state.phase
    return state.evolve(
        phase=to,
        step_index=index,
        candidate_weight=weight,
        shadow_fraction=shadow,
        champion=fresh,
        candidate=fresh,
        champion_total=fresh if new_phase else state.champion_total,
        candidate_total=fresh if new_phase else state.candidate_total,
        failed_checks=state.failed_checks if failed_checks is None else failed_checks,
        p_value=1.0 if new_phase and to is Phase.AB_TEST else state.p_value,  # kept as evidence after
        srm_p_value=1.0 if new_phase and to is Phase.AB_TEST else state.srm_p_value,
        step_started_at=now,
        history=(*state.history, Transition(now, state.phase, to, reason, json_safe(evidence))),
    )


def decide(
    action: Action, state: RolloutState, to: Phase, now: float, reason: str, evidence: dict[str, Any], **kwargs: Any
) -> Decision:
    new = enter(state, to, now, reason, evidence, **kwargs)
    return Decision(action, new, reason, new.history[-1].evidence)


def require(state: RolloutState, allowed: frozenset[Phase], operation: str) -> None:
    if state.phase not in allowed:
        names = ", ".join(sorted(p.value for p in allowed))
        raise RolloutError(
            f"Cannot {operation} rollout {state.rollout_id}: it is in phase {state.phase.value}.",
            f"'{operation}' is allowed in phases: {names}. Start a new rollout to try again.",
        )
