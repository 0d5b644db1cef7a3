"""Shadow mode: the candidate answers a mirrored copy of the traffic and serves nobody; a verdict after
``min_requests`` mirrored calls on its error rate, its p99 latency against the champion's and, optionally, how often
it agrees with the champion.

>>> from driftline.rollout.counters import Observation, VariantCounters
>>> from driftline.rollout.machine import start
>>> from driftline.rollout.spec import RolloutSpec
>>> state = start(RolloutSpec(mode="shadow", candidate_version="4", shadow={"min_requests": 10}), now=0.0)
>>> ok = VariantCounters.from_samples([0.01] * 20)
>>> shadow_step(state.evolve(champion=ok, candidate=ok), now=1.0).action.value
'PROMOTE'
"""

from __future__ import annotations

from pydantic import Field

from driftline.core.strict import StrictModel
from driftline.rollout.checks import arms, at_least, at_most, finite_or_none, ratio
from driftline.rollout.phases import Action, Phase
from driftline.rollout.state import Decision, RolloutState
from driftline.rollout.transition import decide

__all__ = ["ShadowSpec", "shadow_step"]


class ShadowSpec(StrictModel):
    fraction: float = Field(default=1.0, gt=0, le=1, description="Share of requests mirrored to the candidate.")
    min_requests: int = Field(default=500, ge=1, description="Shadow calls before the verdict.")
    max_error_rate: float = Field(default=0.01, ge=0, le=1, description="Highest tolerated candidate error rate.")
    max_p99_ratio: float = Field(default=1.5, gt=0, description="Highest tolerated candidate/champion p99 latency.")
    min_agreement: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Lowest share of identical predictions (regression: within 5%); null only reports it.",
    )
    then_canary: bool = Field(default=False, description="On a pass, continue with the canary section's steps.")


def shadow_step(state: RolloutState, now: float) -> Decision:
    sh = state.spec.shadow
    assert sh is not None  # guaranteed by RolloutSpec for mode shadow
    cand, champ = state.candidate, state.champion
    evidence = arms(state)
    if cand.requests < sh.min_requests or champ.latency_n == 0:
        return Decision(Action.HOLD, state, f"shadow: {cand.requests}/{sh.min_requests} shadow calls", evidence)
    checks = [
        at_most("shadow_error_rate", cand.error_rate, sh.max_error_rate),
        at_most("p99_latency_ratio", ratio(cand.p99, champ.p99), sh.max_p99_ratio),
    ]
    if sh.min_agreement is not None:
        checks.append(at_least("agreement_with_champion", cand.agreement, sh.min_agreement))
    evidence = {**evidence, "checks": [c.to_dict() for c in checks], "agreement": finite_or_none(cand.agreement)}
    failed = [c for c in checks if not c.passed]
    if failed:
        reason = "shadow failed: " + "; ".join(c.describe() for c in failed)
        return decide(Action.ROLLBACK, state, Phase.ROLLED_BACK, now, reason, evidence)
    if sh.then_canary:
        return decide(
            Action.ADVANCE, state, Phase.CANARY, now, "shadow passed; starting canary", evidence, step_index=0
        )
    return decide(Action.PROMOTE, state, Phase.PROMOTED, now, "shadow passed", evidence)
