"""A/B mode: a sticky share of users gets the candidate; a sequential test (mSPRT, an always-valid p-value, safe
to read at every tick) or one fixed-horizon test decides on accuracy, error rate, latency or (regression) the
absolute error of labelled answers, a continuous metric tested like latency (mSPRT on two means, or Welch); for a
regression model the default ``accuracy`` reads as ``abs_error``. A sample-ratio-mismatch
guard (sequential too: valid at every tick) rolls back when the arms' sizes stop matching the configured split.

>>> spec = ABSpec(metric="error_rate", min_samples_per_arm=100)
>>> spec.test.value, spec.candidate_share
('msprt', 0.5)
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Any

from pydantic import Field, model_validator

from driftline.core.stats import (
    StatResult,
    mann_whitney_from_counts,
    msprt_normal,
    msprt_two_proportion,
    srm_sequential,
    two_proportion,
    welch_from_stats,
)
from driftline.core.strict import StrictModel
from driftline.rollout.checks import arms
from driftline.rollout.counters import VariantCounters
from driftline.rollout.phases import Action, Phase
from driftline.rollout.state import Decision, RolloutState
from driftline.rollout.transition import decide

__all__ = ["ABMetric", "ABSpec", "ABTest", "ab_step"]

# Chi-square needs enough expected counts per arm before its p-value means anything.
_SRM_MIN_EXPECTED = 20


class ABMetric(str, Enum):
    ACCURACY = "accuracy"  # from labelled feedback, higher is better
    ERROR_RATE = "error_rate"  # failed requests, lower is better
    LATENCY = "latency"  # seconds, lower is better
    ABS_ERROR = "abs_error"  # regression: absolute error of labelled answers, lower is better


class ABTest(str, Enum):
    MSPRT = "msprt"  # sequential, always-valid p-value: safe to look at every tick
    FIXED = "fixed"  # one fixed-horizon test when both arms reach max_samples_per_arm


class ABSpec(StrictModel):
    candidate_share: float = Field(default=0.5, gt=0, lt=1, description="Share of keys assigned to the candidate.")
    metric: ABMetric = Field(default=ABMetric.ACCURACY, description="accuracy | error_rate | latency | abs_error.")
    test: ABTest = Field(default=ABTest.MSPRT, description="msprt (sequential, default) | fixed (one look).")
    alpha: float = Field(default=0.05, gt=0, lt=1, description="False-promotion/rollback rate of the test.")
    msprt_tau: float = Field(
        default=0.1, gt=0, description="mSPRT mixing sd, in per-observation standard deviations of the metric."
    )
    min_samples_per_arm: int = Field(default=200, ge=2, description="Samples per arm before the first look.")
    max_samples_per_arm: int = Field(default=20_000, ge=2, description="At this size without a verdict: roll back.")
    srm_alpha: float = Field(
        default=0.001,
        gt=0,
        lt=1,
        description="Alpha of the sequential sample-ratio-mismatch guard (any number of looks).",
    )
    salt: str | None = Field(default=None, min_length=1, description="Assignment salt; null derives it.")

    @model_validator(mode="after")
    def _sizes(self) -> ABSpec:
        if self.max_samples_per_arm < self.min_samples_per_arm:
            raise ValueError(
                f"max_samples_per_arm ({self.max_samples_per_arm}) must be >= min_samples_per_arm "
                f"({self.min_samples_per_arm})"
            )
        return self


def ab_step(state: RolloutState, now: float) -> Decision:
    ab = state.spec.ab
    assert ab is not None
    champ, cand = state.champion, state.candidate
    # A regression model's labels are absolute errors: the default accuracy metric means "quality" there.
    metric = ABMetric.ABS_ERROR if ab.metric is ABMetric.ACCURACY and (champ.scored or cand.scored) else ab.metric
    evidence: dict[str, Any] = {**arms(state), "metric": metric.value, "test": ab.test.value}
    guard = _srm_guard(ab, champ, cand, state.srm_p_value)
    if guard is not None:
        state = state.evolve(srm_p_value=guard.p_value)
        evidence["srm"] = guard.to_dict()
        if guard.significant:
            reason = (
                f"sample ratio mismatch: candidate share {cand.requests / (champ.requests + cand.requests):.4f}"
                f" vs configured {ab.candidate_share:.4f} (p={guard.p_value:.3g} < {ab.srm_alpha})"
            )
            return decide(Action.ROLLBACK, state, Phase.ROLLED_BACK, now, reason, evidence)
    n = min(_ab_sizes(metric, champ, cand))
    if n < ab.min_samples_per_arm:
        return Decision(Action.HOLD, state, f"A/B: {n}/{ab.min_samples_per_arm} samples in the smaller arm", evidence)
    if ab.test is ABTest.FIXED and n < ab.max_samples_per_arm:
        reason = f"A/B fixed-horizon test runs once at {ab.max_samples_per_arm} samples per arm; now {n}"
        return Decision(Action.HOLD, state, reason, evidence)
    result = _ab_test(ab, metric, champ, cand, state.p_value)
    state = state.evolve(p_value=result.p_value) if ab.test is ABTest.MSPRT else state
    evidence["result"] = result.to_dict()
    if metric is ABMetric.LATENCY:
        evidence["mann_whitney"] = mann_whitney_from_counts(champ.latency.counts, cand.latency.counts).to_dict()
    summary = (
        f"{metric.value} effect {result.effect:+.4g} (CI {result.ci_low:+.4g}..{result.ci_high:+.4g}), "
        f"p={result.p_value:.3g}, n={n}"
    )
    if result.significant:
        better = result.effect > 0 if metric is ABMetric.ACCURACY else result.effect < 0
        if better:
            return decide(Action.PROMOTE, state, Phase.PROMOTED, now, f"candidate better: {summary}", evidence)
        return decide(Action.ROLLBACK, state, Phase.ROLLED_BACK, now, f"candidate worse: {summary}", evidence)
    if n >= ab.max_samples_per_arm:
        reason = f"inconclusive at max_samples_per_arm={ab.max_samples_per_arm}; keeping the champion: {summary}"
        return decide(Action.ROLLBACK, state, Phase.ROLLED_BACK, now, reason, evidence)
    return Decision(Action.HOLD, state, f"A/B: no significant difference yet: {summary}", evidence)


def _srm_guard(ab: ABSpec, champ: VariantCounters, cand: VariantCounters, previous_p: float) -> StatResult | None:
    """Always-valid test of the arms' request counts vs the configured split (safe at every tick), once the smaller
    arm expects a few requests."""
    share = ab.candidate_share
    if (champ.requests + cand.requests) * min(share, 1.0 - share) < _SRM_MIN_EXPECTED:
        return None
    return srm_sequential(
        [champ.requests, cand.requests], [1.0 - share, share], alpha=ab.srm_alpha, previous_p_value=previous_p
    )


def _ab_sizes(metric: ABMetric, champ: VariantCounters, cand: VariantCounters) -> tuple[int, int]:
    if metric is ABMetric.ACCURACY:
        return champ.labelled, cand.labelled
    if metric is ABMetric.LATENCY:
        return champ.latency_n, cand.latency_n
    if metric is ABMetric.ABS_ERROR:
        return champ.scored, cand.scored
    return champ.requests, cand.requests


def _ab_test(
    ab: ABSpec, metric: ABMetric, champ: VariantCounters, cand: VariantCounters, previous_p: float
) -> StatResult:
    sequential = ab.test is ABTest.MSPRT
    if metric in (ABMetric.LATENCY, ABMetric.ABS_ERROR):
        if metric is ABMetric.LATENCY:
            a = (champ.latency_mean, champ.latency_var, champ.latency_n)
            b = (cand.latency_mean, cand.latency_var, cand.latency_n)
        else:
            a, b = (champ.mae, champ.abs_error_var, champ.scored), (cand.mae, cand.abs_error_var, cand.scored)
        if not sequential:
            return welch_from_stats(*a, *b, alpha=ab.alpha)
        tau = ab.msprt_tau * math.sqrt((a[1] + b[1]) / 2.0)
        return msprt_normal(*a, *b, tau=max(tau, 1e-12), alpha=ab.alpha, previous_p_value=previous_p)
    if metric is ABMetric.ACCURACY:
        counts = (champ.correct, champ.labelled, cand.correct, cand.labelled)
    else:
        counts = (champ.errors, champ.requests, cand.errors, cand.requests)
    if not sequential:
        return two_proportion(*counts, alpha=ab.alpha)
    pooled = (counts[0] + counts[2]) / (counts[1] + counts[3])
    tau = ab.msprt_tau * math.sqrt(pooled * (1.0 - pooled))
    return msprt_two_proportion(*counts, tau=max(tau, 1e-12), alpha=ab.alpha, previous_p_value=previous_p)
