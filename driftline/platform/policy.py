"""The retrain policy: a pure function of (state, latest drift report, clock, config) -> decision. No I/O.

The drift report is read through its typed schema (:mod:`~driftline.platform.policy_signals`). Every decision
says what it does (``retrain`` | ``update`` | ``reweight`` | ``skip``), why (``reason``, a sentence),
on which numbers (``evidence``, JSON-serialisable) and, when a trigger was blocked, by which guard
(``suppressed_by``: cooldown | budget | min_rows | benefit). A trigger left unaddressed for longer than
``guards.max_unaddressed`` raises ``stale_alarm`` so a broken loop is visible.

>>> from datetime import datetime, timedelta, timezone
>>> from driftline.platform.policy_config import PolicyConfig
>>> now = datetime(2024, 1, 1, tzinfo=timezone.utc)
>>> state = PolicyState.start(now).observe(rows=2000, labelled_rows=800)
>>> report = {"schema_version": "1.0", "summary": {"share_drifted": 0.1, "dataset_drift": False},
...           "performance": {"metric": "accuracy", "baseline": 0.91, "current": 0.74, "p_value": 1e-6}}
>>> d = decide(state, report, now, PolicyConfig(strategy="triggered"))
>>> d.kind.value, d.triggers, d.suppressed_by
('retrain', ('performance',), None)
>>> later = now + timedelta(hours=3.9)
>>> state = state.after(d, now).observe(rows=1500, labelled_rows=600)
>>> decide(state, report, later, PolicyConfig()).reason
'retrain suppressed by cooldown (2.1 h left) while accuracy decayed 0.91 -> 0.74 (drop 0.17 >= 0.05, p=1e-06).'
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from driftline.core.errors import DataError
from driftline.monitors.report_schema import DriftReport
from driftline.platform.policy_config import PolicyConfig, Strategy
from driftline.platform.policy_signals import Signals, read_signals

__all__ = ["Decision", "DecisionKind", "Guard", "PolicyState", "decide"]


class DecisionKind(str, Enum):
    RETRAIN = "retrain"
    UPDATE = "update"
    REWEIGHT = "reweight"
    SKIP = "skip"


class Guard(str, Enum):
    """Why a retrain that was due or triggered did not happen."""

    COOLDOWN = "cooldown"
    BUDGET = "budget"
    MIN_ROWS = "min_rows"
    BENEFIT = "benefit"


# Guards that only defer (they lift with time or data): a latched detector signal waits for them.
_DEFERRING = frozenset({Guard.COOLDOWN, Guard.BUDGET, Guard.MIN_ROWS})


@dataclass(frozen=True)
class Decision:
    """What the policy decided, and why. ``to_dict()`` is the JSON form for logs and MLflow."""

    kind: DecisionKind
    reason: str
    evidence: dict[str, Any]
    suppressed_by: Guard | None = None
    triggers: tuple[str, ...] = ()
    stale_alarm: str | None = None
    steps: int | None = None
    class_weights: dict[str, float] | None = None

    @property
    def acted(self) -> bool:
        return self.kind is not DecisionKind.SKIP

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "reason": self.reason,
            "evidence": self.evidence,
            "suppressed_by": self.suppressed_by.value if self.suppressed_by else None,
            "triggers": list(self.triggers),
            "stale_alarm": self.stale_alarm,
            "steps": self.steps,
            "class_weights": self.class_weights,
        }


@dataclass(frozen=True)
class PolicyState:
    """What the policy remembers between ticks. Pure: ``observe`` and ``after`` return new states.

    ``new_labelled_rows`` counts labelled rows no retrain or update has used yet; ``rows_since_retrain`` counts all
    rows since the last retrain; ``trigger_since`` is when the currently firing trigger first fired unaddressed;
    ``detector_fired`` latches a streaming detector's alarm until a retrain/update consumes it.
    """

    started_at: datetime | None = None
    last_retrain_at: datetime | None = None
    retrain_times: tuple[datetime, ...] = ()
    last_update_at: datetime | None = None
    new_labelled_rows: int = 0
    rows_since_retrain: int = 0
    rows_seen: int = 0
    trigger_since: datetime | None = None
    detector_fired: bool = False

    @classmethod
    def start(cls, now: datetime) -> PolicyState:
        """State for a freshly trained champion: periods and cooldowns count from ``now``."""
        return cls(started_at=now)

    def observe(self, rows: int, labelled_rows: int, detector_fired: bool = False) -> PolicyState:
        """Count a new window of ``rows`` (``labelled_rows`` of them with labels); OR in a detector alarm."""
        if rows < 0 or labelled_rows < 0 or labelled_rows > rows:
            raise DataError(
                f"PolicyState.observe got rows={rows}, labelled_rows={labelled_rows}; expected 0 <= labelled <= rows.",
                "Pass the window's row count and how many of those rows have a label.",
            )
        return replace(
            self,
            rows_seen=self.rows_seen + rows,
            rows_since_retrain=self.rows_since_retrain + rows,
            new_labelled_rows=self.new_labelled_rows + labelled_rows,
            detector_fired=self.detector_fired or bool(detector_fired),
        )

    def after(self, decision: Decision, now: datetime) -> PolicyState:
        """The state once ``decision`` has been applied at ``now``."""
        if decision.kind is DecisionKind.RETRAIN:
            return replace(
                self,
                last_retrain_at=now,
                retrain_times=(*self.retrain_times, now),
                new_labelled_rows=0,
                rows_since_retrain=0,
                trigger_since=None,
                detector_fired=False,
            )
        if decision.kind is DecisionKind.UPDATE:
            return replace(self, last_update_at=now, new_labelled_rows=0, trigger_since=None, detector_fired=False)
        if decision.kind is DecisionKind.REWEIGHT:
            return replace(self, trigger_since=None, detector_fired=False)
        since = (self.trigger_since or now) if decision.triggers else None
        keep_detector = self.detector_fired and decision.suppressed_by in _DEFERRING
        return replace(self, trigger_since=since, detector_fired=keep_detector)


# ---------------------------------------------------------------------------------------------------------------------
# Guards and the decision
# ---------------------------------------------------------------------------------------------------------------------


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600.0, 2)


def _guards(
    state: PolicyState, now: datetime, cfg: PolicyConfig, sig: Signals | None
) -> tuple[list[tuple[Guard, str]], dict[str, Any]]:
    """Blocking guards in order (cooldown, budget, min_rows, benefit) and the numbers behind all of them.

    ``sig`` is None for schedules (periodic): a schedule does not need a measured benefit.
    """
    g = cfg.guards
    blocked: list[tuple[Guard, str]] = []
    ev: dict[str, Any] = {}
    if state.last_retrain_at is not None:
        left = g.cooldown - (now - state.last_retrain_at)
        ev["cooldown_left_h"] = max(_hours(left), 0.0)
        if left > timedelta(0):
            blocked.append((Guard.COOLDOWN, f"cooldown ({_hours(left):.1f} h left)"))
    recent = sorted(t for t in state.retrain_times if t > now - g.budget_period)
    ev["retrains_in_period"], ev["max_retrains"] = len(recent), g.max_retrains
    if len(recent) >= g.max_retrains:
        next_slot = recent[-g.max_retrains] + g.budget_period - now
        blocked.append(
            (
                Guard.BUDGET,
                f"budget ({len(recent)} of {g.max_retrains} retrains in the last {_hours(g.budget_period):g} h; "
                f"next slot in {_hours(next_slot):.1f} h)",
            )
        )
    ev["new_labelled_rows"], ev["min_new_labelled_rows"] = state.new_labelled_rows, g.min_new_labelled_rows
    if state.new_labelled_rows < g.min_new_labelled_rows:
        blocked.append(
            (Guard.MIN_ROWS, f"min_rows ({state.new_labelled_rows} of {g.min_new_labelled_rows} new labelled rows)")
        )
    if sig is not None:
        ev["expected_benefit"], ev["min_benefit"] = sig.benefit, g.min_benefit
        if sig.benefit is not None and sig.benefit < g.min_benefit:
            blocked.append((Guard.BENEFIT, f"benefit (expected gain {sig.benefit:.3f} < {g.min_benefit:.3f})"))
        elif sig.benefit is None and g.require_measured_benefit:
            blocked.append((Guard.BENEFIT, "benefit (not measured: no labelled performance in the report)"))
    return blocked, ev


def _stale_alarm(state: PolicyState, sig: Signals, now: datetime, cfg: PolicyConfig) -> str | None:
    if not sig.fired or state.trigger_since is None:
        return None
    unaddressed = now - state.trigger_since
    if unaddressed < cfg.guards.max_unaddressed:
        return None
    anchor = state.last_retrain_at or state.started_at or state.trigger_since
    perf = sig.evidence.get("performance")
    if "performance" in sig.fired and perf:
        what = f"{perf['metric']} decay is {perf['drop']:.2f}"
    else:
        what = next(iter(sig.fired.values()))
    return (
        f"no retrain for {_hours(now - anchor):.1f} h while {what} "
        f"(trigger unaddressed for {_hours(unaddressed):.1f} h > {_hours(cfg.guards.max_unaddressed):g} h)"
    )


def _join(items: list[str] | Any) -> str:
    return "; ".join(items)


def decide(
    state: PolicyState, report: DriftReport | dict[str, Any] | None, now: datetime, config: PolicyConfig
) -> Decision:
    """Decide what to do now. Pure: same inputs, same decision; apply it with ``state.after(decision, now)``."""
    _check_clock(state, now)
    sig = read_signals(report, state.detector_fired, config.triggers, state.new_labelled_rows)
    stale = _stale_alarm(state, sig, now, config)
    evidence: dict[str, Any] = {
        "strategy": config.strategy.value,
        "now": now.isoformat(),
        "signals": sig.evidence,
        "fired": list(sig.fired),
        "missing": sig.missing,
        "state": {
            "rows_seen": state.rows_seen,
            "rows_since_retrain": state.rows_since_retrain,
            "new_labelled_rows": state.new_labelled_rows,
            "last_retrain_at": state.last_retrain_at.isoformat() if state.last_retrain_at else None,
            "trigger_since": state.trigger_since.isoformat() if state.trigger_since else None,
        },
    }
    common: dict[str, Any] = {"triggers": tuple(sig.fired)}
    strategy = config.strategy
    if strategy is Strategy.NEVER:
        also = f", although {_join(list(sig.fired.values()))}" if sig.fired else ""
        decision = Decision(DecisionKind.SKIP, f"strategy is 'never': no retrain{also}.", evidence, **common)
    elif strategy is Strategy.CONTINUAL:
        decision = _continual(state, config, evidence, common)
    elif strategy is Strategy.PERIODIC:
        decision = _periodic(state, now, config, evidence, common)
    else:
        decision = _triggered(state, now, config, sig, evidence, common)
    if stale is None or decision.acted:  # acting now addresses the trigger
        return decision
    evidence["stale_alarm"] = stale
    return replace(decision, stale_alarm=stale, reason=f"{decision.reason} Stale alarm: {stale}.")


def _continual(state: PolicyState, cfg: PolicyConfig, evidence: dict[str, Any], common: dict[str, Any]) -> Decision:
    need, have, steps = cfg.continual.min_labelled_rows, state.new_labelled_rows, cfg.continual.steps
    evidence["continual"] = {"new_labelled_rows": have, "min_labelled_rows": need, "steps": steps}
    if have >= need:
        reason = f"continual update: {have} new labelled rows >= {need}; warm-started update of {steps} steps."
        return Decision(DecisionKind.UPDATE, reason, evidence, steps=steps, **common)
    reason = f"continual update waits for labelled rows: {have} of {need}."
    return Decision(DecisionKind.SKIP, reason, evidence, suppressed_by=Guard.MIN_ROWS, **common)


def _periodic(
    state: PolicyState, now: datetime, cfg: PolicyConfig, evidence: dict[str, Any], common: dict[str, Any]
) -> Decision:
    p = cfg.periodic
    anchor = state.last_retrain_at or state.started_at
    elapsed = now - anchor if anchor is not None else None
    due: list[str] = []
    waiting: list[str] = []
    if p.every_rows is not None:
        text = f"{state.new_labelled_rows} of {p.every_rows} new labelled rows"
        (due if state.new_labelled_rows >= p.every_rows else waiting).append(text)
    if p.every is not None:
        if elapsed is None:
            waiting.append("no reference time for the interval (create the state with PolicyState.start(now))")
        else:
            text = f"{_hours(elapsed):.1f} h of {_hours(p.every):g} h since the last retrain"
            (due if elapsed >= p.every else waiting).append(text)
    blocked, guard_ev = _guards(state, now, cfg, None)
    evidence["periodic"] = {
        "every_rows": p.every_rows,
        "every_h": _hours(p.every) if p.every is not None else None,
        "hours_since_retrain": _hours(elapsed) if elapsed is not None else None,
        "due": bool(due),
    }
    evidence["guards"] = guard_ev | {"blocked": [g.value for g, _ in blocked]}
    if not due:
        return Decision(DecisionKind.SKIP, f"periodic retrain not due: {_join(waiting)}.", evidence, **common)
    if blocked:
        guard, text = blocked[0]
        reason = f"periodic retrain due ({_join(due)}) but suppressed by {text}."
        return Decision(DecisionKind.SKIP, reason, evidence, suppressed_by=guard, **common)
    return Decision(DecisionKind.RETRAIN, f"periodic retrain due: {_join(due)}.", evidence, **common)


def _triggered(
    state: PolicyState,
    now: datetime,
    cfg: PolicyConfig,
    sig: Signals,
    evidence: dict[str, Any],
    common: dict[str, Any],
) -> Decision:
    if not sig.fired:
        if "report" in sig.missing:
            reason = "no drift report yet (no data in the window) and no streaming detector fired."
        else:
            missing = f" (report has no {', '.join(sig.missing)})" if sig.missing else ""
            reason = f"no trigger fired: {_join(sig.quiet) or 'nothing measured'}{missing}."
        return Decision(DecisionKind.SKIP, reason, evidence, **common)
    why = _join(list(sig.fired.values()))
    # Concept drift is indicated by measured decay or the error-stream detector; feature drift alone is ambiguous
    # (a pure prior shift moves P(X) too), so it only counts when no labelled performance says otherwise.
    # A refresh is no evidence of concept drift (more rows arrived), so it never blocks the cheap label-shift fix.
    concept = (
        "performance" in sig.fired
        or "detector" in sig.fired
        or ("drift" in sig.fired and "performance" not in sig.evidence)
    )
    evidence["concept_drift_indicated"] = concept
    if cfg.label_shift_fix and "label_shift" in sig.fired and not concept and sig.class_weights:
        perf = sig.evidence.get("performance")
        holds = f"{perf['metric']} holds ({perf['baseline']:.2f} -> {perf['current']:.2f})" if perf else "no labels yet"
        reason = (
            f"reweight outputs by the estimated prior ratio instead of retraining: {why}, while {holds} and no "
            "detector fired, so nothing points to concept drift."
        )
        return Decision(DecisionKind.REWEIGHT, reason, evidence, class_weights=sig.class_weights, **common)
    # A refresh is due to rows, not to measured decay: like a schedule it needs no measured benefit.
    blocked, guard_ev = _guards(state, now, cfg, None if set(sig.fired) == {"refresh"} else sig)
    evidence["guards"] = guard_ev | {"blocked": [g.value for g, _ in blocked]}
    if blocked:
        guard, text = blocked[0]
        others = f" (also {', '.join(g.value for g, _ in blocked[1:])})" if len(blocked) > 1 else ""
        reason = f"retrain suppressed by {text}{others} while {why}."
        return Decision(DecisionKind.SKIP, reason, evidence, suppressed_by=guard, **common)
    benefit = f"; expected gain {sig.benefit:.2f}" if sig.benefit is not None else "; benefit not measured"
    return Decision(DecisionKind.RETRAIN, f"retrain: {why}{benefit}.", evidence, **common)


def _check_clock(state: PolicyState, now: datetime) -> None:
    aware = now.tzinfo is not None
    for name in ("started_at", "last_retrain_at", "trigger_since"):
        t = getattr(state, name)
        if t is not None and (t.tzinfo is not None) != aware:
            raise DataError(
                f"PolicyState.{name} ({t.isoformat()}) and now ({now.isoformat()}) mix naive and aware datetimes.",
                "Use timezone-aware UTC datetimes everywhere, e.g. datetime.now(timezone.utc).",
            )
