"""Canary mode: the candidate serves a growing share of users, step by step; each step checks error rate, p99
latency and (with enough labels) non-inferior quality against the champion, then advances, holds or rolls back.
Quality is accuracy for a classifier; for a regression model it is the mean absolute error, and the candidate fails
only when the whole Welch CI of (candidate - champion) MAE lies above ``max_mae_increase`` times the champion's MAE.

>>> from driftline.rollout.counters import Observation, VariantCounters
>>> from driftline.rollout.machine import start, step
>>> from driftline.rollout.spec import RolloutSpec
>>> spec = RolloutSpec(mode="canary", candidate_version="4",
...                    canary={"steps": [0.1, 1.0], "min_requests_per_step": 50, "min_seconds_per_step": 0})
>>> state = start(spec, now=0.0)
>>> ok = VariantCounters.from_samples([0.01] * 500)
>>> d = step(state, Observation(now=10.0, champion=ok, candidate=VariantCounters.from_samples([0.01] * 60)))
>>> d.action.value, d.state.candidate_weight
('ADVANCE', 1.0)
"""

from __future__ import annotations

import itertools
import math

from pydantic import Field, field_validator

from driftline.core.stats import two_proportion, welch_from_stats
from driftline.core.strict import StrictModel
from driftline.rollout.checks import Check, arms, at_most, ratio
from driftline.rollout.counters import VariantCounters
from driftline.rollout.phases import Action, Phase
from driftline.rollout.state import Decision, RolloutState
from driftline.rollout.transition import decide, enter

__all__ = ["CanarySpec", "canary_checks", "canary_step"]


class CanarySpec(StrictModel):
    steps: tuple[float, ...] = Field(
        default=(0.05, 0.25, 0.5, 1.0), description="Candidate weights, strictly increasing, ending at 1.0."
    )
    min_requests_per_step: int = Field(default=200, ge=1, description="Candidate requests before a step's check.")
    min_seconds_per_step: float = Field(default=60.0, ge=0, description="Seconds at a step before its check.")
    max_error_rate_increase: float = Field(
        default=0.01, ge=0, le=1, description="Highest tolerated candidate minus champion error rate (absolute)."
    )
    max_p99_latency_ratio: float = Field(default=1.5, gt=0, description="Highest candidate/champion p99 latency.")
    min_quality_delta: float = Field(
        default=-0.02,
        ge=-1,
        le=1,
        description="Candidate minus champion accuracy allowed; fails when the whole CI lies below it.",
    )
    max_mae_increase: float = Field(
        default=0.05,
        ge=0,
        description="Regression: candidate minus champion MAE allowed, as a share of the champion's MAE; fails when "
        "the whole CI lies above it.",
    )
    min_labelled: int = Field(default=200, ge=1, description="Labelled requests per arm before quality is tested.")
    quality_alpha: float = Field(default=0.05, gt=0, lt=1, description="Alpha of the quality CI.")
    max_failed_checks: int = Field(default=2, ge=0, description="Failed checks tolerated; one more rolls back.")

    @field_validator("steps")
    @classmethod
    def _ramp(cls, steps: tuple[float, ...]) -> tuple[float, ...]:
        if len(steps) < 2:
            raise ValueError(
                f"steps {list(steps)} need at least two weights (e.g. [0.1, 1.0]): the steps below 1.0 give the "
                "champion baseline the last step is compared with"
            )
        if any(not 0 < w <= 1 for w in steps):
            raise ValueError(f"steps {list(steps)} must all be in (0, 1]")
        if any(b <= a for a, b in itertools.pairwise(steps)):
            raise ValueError(f"steps {list(steps)} must be strictly increasing")
        if steps[-1] != 1.0:
            raise ValueError(f"steps {list(steps)} must end at 1.0 (the candidate then serves everyone)")
        return steps


def canary_step(state: RolloutState, now: float) -> Decision:
    c = state.spec.canary
    assert c is not None
    cand = state.candidate
    elapsed = now - state.step_started_at
    weight = c.steps[state.step_index]
    if cand.requests < c.min_requests_per_step or elapsed < c.min_seconds_per_step:
        reason = (
            f"canary step {state.step_index + 1}/{len(c.steps)} at {weight:.0%}: "
            f"{cand.requests}/{c.min_requests_per_step} requests, {elapsed:.0f}/{c.min_seconds_per_step:.0f} s"
        )
        return Decision(Action.HOLD, state, reason, arms(state))
    # At 100% the champion serves nobody in this step, so its totals since the canary began are the baseline.
    use_step = state.champion.requests >= c.min_requests_per_step
    baseline = state.champion if use_step else state.champion_total
    checks = canary_checks(c, cand, baseline)
    evidence = {
        **arms(state),
        "champion_baseline": "step" if use_step else "canary_total",
        "checks": [ch.to_dict() for ch in checks],
        "step": state.step_index,
        "weight": weight,
    }
    failed = [ch for ch in checks if not ch.passed]
    if not failed:
        if state.step_index == len(c.steps) - 1:
            return decide(Action.PROMOTE, state, Phase.PROMOTED, now, "canary passed every step", evidence)
        nxt = state.step_index + 1
        reason = f"canary step {nxt}/{len(c.steps)} passed; advancing to {c.steps[nxt]:.0%}"
        return decide(Action.ADVANCE, state, Phase.CANARY, now, reason, evidence, step_index=nxt)
    failures = state.failed_checks + 1
    detail = "; ".join(ch.describe() for ch in failed)
    if failures > c.max_failed_checks:
        reason = f"canary aborted after {failures} failed checks (max {c.max_failed_checks}): {detail}"
        return decide(Action.ROLLBACK, state, Phase.ROLLED_BACK, now, reason, evidence, failed_checks=failures)
    # A counted failure restarts the step's window so the next analysis uses fresh data.
    reason = f"canary check failed ({failures}/{c.max_failed_checks} tolerated): {detail}"
    new = enter(state, Phase.CANARY, now, reason, evidence, step_index=state.step_index, failed_checks=failures)
    return Decision(Action.HOLD, new, reason, evidence)


def canary_checks(c: CanarySpec, cand: VariantCounters, champ: VariantCounters) -> list[Check]:
    checks = [
        at_most("error_rate_increase", cand.error_rate - champ.error_rate, c.max_error_rate_increase),
        at_most("p99_latency_ratio", ratio(cand.p99, champ.p99), c.max_p99_latency_ratio),
    ]
    if cand.scored or champ.scored:  # a regression model: labels are scored by absolute error
        checks.append(_mae_check(c, cand, champ))
    elif cand.labelled >= c.min_labelled and champ.labelled >= c.min_labelled:
        r = two_proportion(champ.correct, champ.labelled, cand.correct, cand.labelled, alpha=c.quality_alpha)
        # Non-inferiority: fail only when the whole CI of (candidate - champion) accuracy is below the margin.
        note = (
            f"accuracy delta {r.effect:+.4f} (CI {r.ci_low:+.4f}..{r.ci_high:+.4f}, p={r.p_value:.3g}) "
            f"vs min_quality_delta {c.min_quality_delta:+.4f}"
        )
        checks.append(
            Check("quality_delta_ci_high", r.ci_high, c.min_quality_delta, r.ci_high >= c.min_quality_delta, note)
        )
    else:
        note = f"skipped: labelled {cand.labelled}/{champ.labelled} < {c.min_labelled} per arm"
        checks.append(Check("quality_delta_ci_high", math.nan, c.min_quality_delta, True, note))
    return checks


def _mae_check(c: CanarySpec, cand: VariantCounters, champ: VariantCounters) -> Check:
    """Non-inferiority on absolute error: fail only when the CI's low end of (candidate - champion) MAE exceeds the
    allowed increase (``max_mae_increase`` x the champion's MAE)."""
    limit = c.max_mae_increase * champ.mae if champ.scored else math.nan
    if cand.scored < c.min_labelled or champ.scored < c.min_labelled:
        note = f"skipped: scored labels {cand.scored}/{champ.scored} < {c.min_labelled} per arm"
        return Check("mae_increase_ci_low", math.nan, limit, True, note)
    r = welch_from_stats(
        champ.mae, champ.abs_error_var, champ.scored, cand.mae, cand.abs_error_var, cand.scored, alpha=c.quality_alpha
    )
    note = (
        f"MAE {cand.mae:.4g} vs champion {champ.mae:.4g}: delta {r.effect:+.4g} (CI {r.ci_low:+.4g}..{r.ci_high:+.4g}, "
        f"p={r.p_value:.3g}) vs allowed +{limit:.4g} ({c.max_mae_increase:.0%} of the champion's)"
    )
    return Check("mae_increase_ci_low", r.ci_low, limit, r.ci_low <= limit, note)
