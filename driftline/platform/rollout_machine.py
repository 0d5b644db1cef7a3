"""The rollout state machine: pure functions, no I/O, no clock (time arrives in the observation).

``start`` creates a state, ``step`` folds one observation window in and decides, ``promote``/``abort`` are the
manual operations, ``traffic_for`` says what the routers should apply. Each mode has its own small handler.

>>> from driftline.platform.rollout import Observation, VariantCounters
>>> from driftline.platform.rollout_spec import RolloutSpec
>>> spec = RolloutSpec(mode="canary", candidate_version="4",
...                    canary={"steps": [0.1, 1.0], "min_requests_per_step": 50, "min_seconds_per_step": 0})
>>> state = start(spec, now=0.0)
>>> ok = VariantCounters.from_samples([0.01] * 500)
>>> d = step(state, Observation(now=10.0, champion=ok, candidate=VariantCounters.from_samples([0.01] * 60)))
>>> d.action.value, d.state.candidate_weight
('ADVANCE', 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from driftline.platform.errors import RolloutError
from driftline.platform.rollout import (
    TERMINAL_PHASES,
    TRANSITIONS,
    Action,
    Decision,
    Observation,
    Phase,
    RolloutState,
    Transition,
    VariantCounters,
)
from driftline.platform.rollout_spec import ABMetric, ABSpec, ABTest, CanarySpec, RolloutMode, RolloutSpec
from driftline.platform.stats import (
    StatResult,
    mann_whitney_from_counts,
    msprt_normal,
    msprt_two_proportion,
    srm,
    two_proportion,
    welch_from_stats,
)
from driftline.platform.traffic import TrafficConfig, TrafficMode

__all__ = ["ACTIVE_PHASES", "Check", "abort", "promote", "start", "step", "traffic_for"]

ACTIVE_PHASES = frozenset({Phase.SHADOW, Phase.CANARY, Phase.AB_TEST})
_FIRST_PHASE = {RolloutMode.SHADOW: Phase.SHADOW, RolloutMode.CANARY: Phase.CANARY, RolloutMode.AB: Phase.AB_TEST}
# Chi-square needs enough expected counts per arm before its p-value means anything.
_SRM_MIN_EXPECTED = 20


@dataclass(frozen=True)
class Check:
    """One comparison of a step's analysis: the observed value, its limit and whether it passed."""

    name: str
    observed: float
    limit: float
    passed: bool
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return _json_safe(
            {
                "name": self.name,
                "observed": self.observed,
                "limit": self.limit,
                "passed": self.passed,
                "note": self.note,
            }
        )

    def describe(self) -> str:
        return self.note or f"{self.name} {_fmt(self.observed)} vs limit {_fmt(self.limit)}"


# ---------------------------------------------------------------------------------------------------- public API


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
    return _enter(pending, first, now, reason, {"spec": spec.model_dump(mode="json")}, step_index=0)


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
    return _HANDLERS[state.phase](state, observation.now)


def promote(state: RolloutState, now: float, reason: str = "manual promote") -> Decision:
    """Operator promotion: the candidate takes all traffic and becomes champion."""
    _require(state, ACTIVE_PHASES, "promote")
    new = _enter(state, Phase.PROMOTED, now, reason, {"manual": True, **_arms(state)})
    return Decision(Action.PROMOTE, new, reason, new.history[-1].evidence)


def abort(state: RolloutState, now: float, reason: str = "manual abort") -> Decision:
    """Operator abort: all traffic back to the champion."""
    _require(state, ACTIVE_PHASES | {Phase.PENDING}, "abort")
    new = _enter(state, Phase.ROLLED_BACK, now, reason, {"manual": True, **_arms(state)})
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


# ------------------------------------------------------------------------------------------------ mode handlers


def _pending(state: RolloutState, now: float) -> Decision:
    return Decision(Action.HOLD, state, "rollout not started; call start()")


def _shadow(state: RolloutState, now: float) -> Decision:
    sh = state.spec.shadow
    assert sh is not None  # guaranteed by RolloutSpec for mode shadow
    cand, champ = state.candidate, state.champion
    evidence = _arms(state)
    if cand.requests < sh.min_requests or champ.latency_n == 0:
        return Decision(Action.HOLD, state, f"shadow: {cand.requests}/{sh.min_requests} shadow calls", evidence)
    checks = [
        _at_most("shadow_error_rate", cand.error_rate, sh.max_error_rate),
        _at_most("p99_latency_ratio", _ratio(cand.p99, champ.p99), sh.max_p99_ratio),
    ]
    if sh.min_agreement is not None:
        checks.append(_at_least("agreement_with_champion", cand.agreement, sh.min_agreement))
    evidence = {**evidence, "checks": [c.to_dict() for c in checks], "agreement": _num(cand.agreement)}
    failed = [c for c in checks if not c.passed]
    if failed:
        reason = "shadow failed: " + "; ".join(c.describe() for c in failed)
        return _decide(Action.ROLLBACK, state, Phase.ROLLED_BACK, now, reason, evidence)
    if sh.then_canary:
        return _decide(
            Action.ADVANCE, state, Phase.CANARY, now, "shadow passed; starting canary", evidence, step_index=0
        )
    return _decide(Action.PROMOTE, state, Phase.PROMOTED, now, "shadow passed", evidence)


def _canary(state: RolloutState, now: float) -> Decision:
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
        return Decision(Action.HOLD, state, reason, _arms(state))
    # At 100% the champion serves nobody in this step, so its totals since the canary began are the baseline.
    use_step = state.champion.requests >= c.min_requests_per_step
    baseline = state.champion if use_step else state.champion_total
    checks = _canary_checks(c, cand, baseline)
    evidence = {
        **_arms(state),
        "champion_baseline": "step" if use_step else "canary_total",
        "checks": [ch.to_dict() for ch in checks],
        "step": state.step_index,
        "weight": weight,
    }
    failed = [ch for ch in checks if not ch.passed]
    if not failed:
        if state.step_index == len(c.steps) - 1:
            return _decide(Action.PROMOTE, state, Phase.PROMOTED, now, "canary passed every step", evidence)
        nxt = state.step_index + 1
        reason = f"canary step {nxt}/{len(c.steps)} passed; advancing to {c.steps[nxt]:.0%}"
        return _decide(Action.ADVANCE, state, Phase.CANARY, now, reason, evidence, step_index=nxt)
    failures = state.failed_checks + 1
    detail = "; ".join(ch.describe() for ch in failed)
    if failures > c.max_failed_checks:
        reason = f"canary aborted after {failures} failed checks (max {c.max_failed_checks}): {detail}"
        return _decide(Action.ROLLBACK, state, Phase.ROLLED_BACK, now, reason, evidence, failed_checks=failures)
    # A counted failure restarts the step's window so the next analysis uses fresh data.
    reason = f"canary check failed ({failures}/{c.max_failed_checks} tolerated): {detail}"
    new = _enter(state, Phase.CANARY, now, reason, evidence, step_index=state.step_index, failed_checks=failures)
    return Decision(Action.HOLD, new, reason, evidence)


def _canary_checks(c: CanarySpec, cand: VariantCounters, champ: VariantCounters) -> list[Check]:
    checks = [
        _at_most("error_rate_increase", cand.error_rate - champ.error_rate, c.max_error_rate_increase),
        _at_most("p99_latency_ratio", _ratio(cand.p99, champ.p99), c.max_p99_latency_ratio),
    ]
    if cand.labelled >= c.min_labelled and champ.labelled >= c.min_labelled:
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


def _ab(state: RolloutState, now: float) -> Decision:
    ab = state.spec.ab
    assert ab is not None
    champ, cand = state.champion, state.candidate
    evidence: dict[str, Any] = {**_arms(state), "metric": ab.metric.value, "test": ab.test.value}
    guard = _srm_guard(ab, champ, cand)
    if guard is not None:
        evidence["srm"] = guard.to_dict()
        if guard.significant:
            reason = (
                f"sample ratio mismatch: candidate share {cand.requests / (champ.requests + cand.requests):.4f}"
                f" vs configured {ab.candidate_share:.4f} (p={guard.p_value:.3g} < {ab.srm_alpha})"
            )
            return _decide(Action.ROLLBACK, state, Phase.ROLLED_BACK, now, reason, evidence)
    n = min(_ab_sizes(ab.metric, champ, cand))
    if n < ab.min_samples_per_arm:
        return Decision(Action.HOLD, state, f"A/B: {n}/{ab.min_samples_per_arm} samples in the smaller arm", evidence)
    if ab.test is ABTest.FIXED and n < ab.max_samples_per_arm:
        reason = f"A/B fixed-horizon test runs once at {ab.max_samples_per_arm} samples per arm; now {n}"
        return Decision(Action.HOLD, state, reason, evidence)
    result = _ab_test(ab, champ, cand, state.p_value)
    state = state.evolve(p_value=result.p_value) if ab.test is ABTest.MSPRT else state
    evidence["result"] = result.to_dict()
    if ab.metric is ABMetric.LATENCY:
        evidence["mann_whitney"] = mann_whitney_from_counts(champ.latency.counts, cand.latency.counts).to_dict()
    summary = (
        f"{ab.metric.value} effect {result.effect:+.4g} (CI {result.ci_low:+.4g}..{result.ci_high:+.4g}), "
        f"p={result.p_value:.3g}, n={n}"
    )
    if result.significant:
        better = result.effect > 0 if ab.metric is ABMetric.ACCURACY else result.effect < 0
        if better:
            return _decide(Action.PROMOTE, state, Phase.PROMOTED, now, f"candidate better: {summary}", evidence)
        return _decide(Action.ROLLBACK, state, Phase.ROLLED_BACK, now, f"candidate worse: {summary}", evidence)
    if n >= ab.max_samples_per_arm:
        reason = f"inconclusive at max_samples_per_arm={ab.max_samples_per_arm}; keeping the champion: {summary}"
        return _decide(Action.ROLLBACK, state, Phase.ROLLED_BACK, now, reason, evidence)
    return Decision(Action.HOLD, state, f"A/B: no significant difference yet: {summary}", evidence)


def _srm_guard(ab: ABSpec, champ: VariantCounters, cand: VariantCounters) -> StatResult | None:
    """Chi-square of the arms' request counts vs the configured split, once the smaller arm expects enough."""
    share = ab.candidate_share
    if (champ.requests + cand.requests) * min(share, 1.0 - share) < _SRM_MIN_EXPECTED:
        return None
    return srm([champ.requests, cand.requests], [1.0 - share, share], alpha=ab.srm_alpha)


def _ab_sizes(metric: ABMetric, champ: VariantCounters, cand: VariantCounters) -> tuple[int, int]:
    if metric is ABMetric.ACCURACY:
        return champ.labelled, cand.labelled
    if metric is ABMetric.LATENCY:
        return champ.latency_n, cand.latency_n
    return champ.requests, cand.requests


def _ab_test(ab: ABSpec, champ: VariantCounters, cand: VariantCounters, previous_p: float) -> StatResult:
    sequential = ab.test is ABTest.MSPRT
    if ab.metric is ABMetric.LATENCY:
        args = (
            champ.latency_mean,
            champ.latency_var,
            champ.latency_n,
            cand.latency_mean,
            cand.latency_var,
            cand.latency_n,
        )
        if not sequential:
            return welch_from_stats(*args, alpha=ab.alpha)
        tau = ab.msprt_tau * math.sqrt((champ.latency_var + cand.latency_var) / 2.0)
        return msprt_normal(*args, tau=max(tau, 1e-12), alpha=ab.alpha, previous_p_value=previous_p)
    if ab.metric is ABMetric.ACCURACY:
        counts = (champ.correct, champ.labelled, cand.correct, cand.labelled)
    else:
        counts = (champ.errors, champ.requests, cand.errors, cand.requests)
    if not sequential:
        return two_proportion(*counts, alpha=ab.alpha)
    pooled = (counts[0] + counts[2]) / (counts[1] + counts[3])
    tau = ab.msprt_tau * math.sqrt(pooled * (1.0 - pooled))
    return msprt_two_proportion(*counts, tau=max(tau, 1e-12), alpha=ab.alpha, previous_p_value=previous_p)


_HANDLERS: dict[Phase, Callable[[RolloutState, float], Decision]] = {
    Phase.PENDING: _pending,
    Phase.SHADOW: _shadow,
    Phase.CANARY: _canary,
    Phase.AB_TEST: _ab,
}


# ------------------------------------------------------------------------------------------------------ helpers


def _enter(
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
        step_started_at=now,
        history=(*state.history, Transition(now, state.phase, to, reason, _json_safe(evidence))),
    )


def _decide(
    action: Action, state: RolloutState, to: Phase, now: float, reason: str, evidence: dict[str, Any], **kwargs: Any
) -> Decision:
    new = _enter(state, to, now, reason, evidence, **kwargs)
    return Decision(action, new, reason, new.history[-1].evidence)


def _require(state: RolloutState, allowed: frozenset[Phase], operation: str) -> None:
    if state.phase not in allowed:
        names = ", ".join(sorted(p.value for p in allowed))
        raise RolloutError(
            f"Cannot {operation} rollout {state.rollout_id}: it is in phase {state.phase.value}.",
            f"'{operation}' is allowed in phases: {names}. Start a new rollout to try again.",
        )


def _at_most(name: str, observed: float, limit: float) -> Check:
    return Check(name, observed, limit, observed <= limit)  # NaN (no data) fails


def _at_least(name: str, observed: float, limit: float) -> Check:
    return Check(name, observed, limit, observed >= limit)


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan


def _summary(c: VariantCounters) -> dict[str, Any]:
    return {
        "requests": c.requests,
        "errors": c.errors,
        "error_rate": _num(c.error_rate),
        "p50": _num(c.latency.quantile(0.5)),
        "p99": _num(c.p99),
        "labelled": c.labelled,
        "accuracy": _num(c.accuracy),
    }


def _arms(state: RolloutState) -> dict[str, Any]:
    return {"champion": _summary(state.champion), "candidate": _summary(state.candidate)}


def _num(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _fmt(x: float) -> str:
    return "n/a (no data)" if not math.isfinite(x) else f"{x:.4g}"


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value
