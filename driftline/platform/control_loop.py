"""The closed loop: analyse the newest window -> decide -> retrain or re-weight -> roll out -> follow it.

One :meth:`ControlLoop.tick` is one pass; ``driftline run`` repeats it on a schedule. The loop never runs two
retrains or two rollouts at once (it waits while a rollout is active), persists its typed state in
the ``loop`` document of the state store (so a restart resumes), and any failing step is recorded on the timeline while
serving stays untouched. Its collaborators come in through four Protocols (the rollout API, the window analyst,
the labelled rows, the candidate jobs); :mod:`~driftline.platform.loop_adapters` has the real ones.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd
from pydantic import Field

from driftline.core.config import DriftlineConfig
from driftline.core.config_loader import load_yaml_model
from driftline.core.state_db import model_state
from driftline.core.strict import StrictModel
from driftline.core.timeline import Timeline
from driftline.platform.loop_state import LoopState, LoopStateStore
from driftline.platform.policy import DecisionKind, PolicyState, decide
from driftline.platform.policy_config import PolicyConfig

if TYPE_CHECKING:
    from driftline.train_jobs.retrain import RetrainOutcome
    from driftline.train_jobs.reweight import ReweightOutcome

__all__ = [
    "CandidateJobs",
    "ControlLoop",
    "ControlLoopConfig",
    "LabelSource",
    "RolloutClient",
    "TickResult",
    "WindowAnalyst",
]

_TERMINAL = {"PROMOTED", "ROLLED_BACK"}
# Shadow, then a canary ramp, with RolloutSpec's documented defaults (see docs/concepts/rollouts.md).
_DEFAULT_ROLLOUT: dict[str, Any] = {"mode": "shadow", "shadow": {"then_canary": True}}


class ControlLoopConfig(StrictModel):
    """``configs/loop.yaml``: how the loop runs and which rollout a passing candidate gets."""

    serve_url: str = Field(default="http://127.0.0.1:8000", description="Base URL of driftline's Serve app.")
    interval_seconds: float = Field(default=60.0, gt=0, description="Seconds between two ticks of `driftline run`.")
    min_window_rows: int = Field(default=200, ge=1, description="Fewer served rows than this: wait for more.")
    settle_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Rows younger than this wait for the next window, so log flushes and their labels can land.",
    )
    retrain_window_rows: int = Field(default=1_500, ge=10, description="Most labelled rows a retrain learns from.")
    min_retrain_rows: int = Field(
        default=300, ge=10, description="Fewest: the triggering window is widened back in time to reach this."
    )
    reweight_margin: float = Field(default=0.0, ge=0, description="A re-weighted candidate may lose at most this.")
    policy_file: Path | None = Field(default=None, description="configs/policy.yaml-shaped file; null: defaults.")
    retrain_file: Path | None = Field(default=None, description="configs/retrain.yaml-shaped file; null: defaults.")
    drift_file: Path | None = Field(default=None, description="configs/drift.yaml-shaped file; null: defaults.")
    rollout: dict[str, Any] = Field(
        default_factory=lambda: dict(_DEFAULT_ROLLOUT),
        description="RolloutSpec without candidate_version: the declared rollout for a passing candidate.",
    )


class RolloutClient(Protocol):
    """The Serve app's admin API (:class:`~driftline.platform.admin_client.AdminClient`)."""

    def status(self) -> dict[str, Any]: ...

    def start(self, spec: dict[str, Any]) -> dict[str, Any]: ...


class WindowAnalyst(Protocol):
    """A drift report of the served rows in ``(since, until]`` (Unix seconds), or None when there are too few."""

    def analyse(self, since: float | None, until: float) -> dict[str, Any] | None: ...


class LabelSource(Protocol):
    """Served rows joined with their labels, in time order, and the champion's label column name."""

    def rows(self) -> pd.DataFrame: ...

    def label_column(self) -> str: ...


class CandidateJobs(Protocol):
    """The two ways to make a candidate: a retrain, or the champion re-weighted for a label shift."""

    def retrain(
        self, window: pd.DataFrame, older: pd.DataFrame | None, trigger: str, data_window: str
    ) -> RetrainOutcome: ...

    def reweight(self, class_weights: Mapping[str, float], rows: pd.DataFrame) -> ReweightOutcome: ...


@dataclass
class TickResult:
    action: str
    reason: str
    report: dict[str, Any] | None = None
    candidate: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)


def _rows_since_change(errors: Any) -> int:
    """How many of the newest rows share one error rate, by ADWIN (Bifet & Gavalda 2007) over the error stream."""
    from driftline.monitors.detectors import ADWIN

    detector = ADWIN()
    for error in errors:
        detector.update(float(error))
    return int(detector.width)


class ControlLoop:
    """Holds the collaborators; all state lives on disk between ticks."""

    def __init__(
        self,
        cfg: DriftlineConfig,
        loop_cfg: ControlLoopConfig,
        rollouts: RolloutClient,
        *,
        analyst: WindowAnalyst | None = None,
        labels: LabelSource | None = None,
        jobs: CandidateJobs | None = None,
    ) -> None:
        from driftline.platform.loop_adapters import DriftJobAnalyst, LogLabels, TrainJobs

        self.cfg, self.loop_cfg, self.rollouts = cfg, loop_cfg, rollouts
        self.analyst = analyst or DriftJobAnalyst(cfg, loop_cfg.drift_file, loop_cfg.min_window_rows)
        self.labels = labels or LogLabels(cfg)
        self.jobs = jobs or TrainJobs(cfg, loop_cfg.retrain_file, loop_cfg.reweight_margin)
        self.timeline = Timeline(model_state(cfg))
        self.store = LoopStateStore(model_state(cfg))
        self.policy_cfg = (
            load_yaml_model(loop_cfg.policy_file, PolicyConfig) if loop_cfg.policy_file else PolicyConfig()
        )

    def _event(self, result: TickResult, kind: str, message: str, **fields: Any) -> None:
        result.events.append(self.timeline.append(kind, message, **fields))

    def _load(self, now: datetime, result: TickResult) -> LoopState:
        state, problem = self.store.load()
        if problem is not None:
            self._event(result, "state_unreadable", problem)
        return state or LoopState(PolicyState.start(now))

    # -------------------------------------------------------------------------------------------- tick
    def tick(self, now: datetime | None = None) -> TickResult:
        now = now or datetime.now(tz=timezone.utc)
        result = TickResult("wait", "")
        state = self._load(now, result)
        state.ticks += 1
        try:
            self._tick(state, now, result)
        except Exception as exc:  # the loop survives any failing step; serving is never touched by it
            result.action, result.reason = "error", f"{type(exc).__name__}: {exc}"
            self._event(result, "error", f"tick failed: {result.reason}")
        self.store.save(state)
        return result

    def _tick(self, state: LoopState, now: datetime, result: TickResult) -> None:
        status = self.rollouts.status()
        self._follow_rollout(state, status, result)
        rollout = status.get("rollout")
        if rollout and rollout["phase"] not in _TERMINAL:
            candidate = rollout["spec"]["candidate_version"]
            result.action, result.reason = "wait", f"rollout of v{candidate} in {rollout['phase']}"
            return
        until = time.time() - self.loop_cfg.settle_seconds
        since = state.last_until
        report = self.analyst.analyse(since, until)
        if report is None:
            result.reason = "not enough new traffic yet"
            return
        result.report = report
        state.last_until = until
        self._record_window(report, result)
        window = report["window"]
        policy = state.policy.observe(window["rows"], window["labelled_rows"])
        decision = decide(policy, report, now, self.policy_cfg)
        self._event(result, "decision", f"{decision.kind.value}: {decision.reason}", evidence=decision.evidence)
        result.action, result.reason = decision.kind.value, decision.reason
        # The attempt consumes cooldown and budget before it runs: a retrain that fails is not retried every tick.
        state.policy = policy.after(decision, now)
        self.store.save(state)
        candidate = None
        if decision.kind in (DecisionKind.RETRAIN, DecisionKind.UPDATE):
            candidate = self._retrain(decision.reason, result, since=since)
        elif decision.kind is DecisionKind.REWEIGHT:
            candidate = self._reweight(decision.class_weights or {}, result, since=since)
        if candidate is not None:
            spec = {**self.loop_cfg.rollout, "candidate_version": candidate}
            self.rollouts.start(spec)
            result.candidate = candidate
            self._event(result, "rollout_started", f"{spec['mode']} rollout of v{candidate}", evidence={"spec": spec})

    def _record_window(self, report: dict[str, Any], result: TickResult) -> None:
        window, summary, perf = report["window"], report["summary"], report.get("performance") or {}
        self._event(
            result,
            "window_analysed",
            f"{window['rows']} rows ({window['labelled_rows']} labelled): "
            f"drifted {summary['drifted_features'] or 'none'}, "
            f"{_quality(perf)}, "
            f"label shift {'yes' if summary.get('label_shift') else 'no'}",
            evidence={"summary": summary, "performance": perf, "label_shift": report.get("label_shift")},
        )

    def _follow_rollout(self, state: LoopState, status: dict[str, Any], result: TickResult) -> None:
        rollout = status.get("rollout")
        if not rollout:
            return
        key = str(rollout.get("rollout_id"))
        history = rollout.get("history", [])
        for transition in history[state.seen.get(key, 0) :]:
            kind = {"PROMOTED": "promoted", "ROLLED_BACK": "rolled_back"}.get(transition["to"], "rollout_transition")
            self._event(
                result,
                kind,
                f"v{rollout['spec']['candidate_version']}: {transition['from']} -> {transition['to']}: "
                f"{transition['reason']}",
                version=rollout["spec"]["candidate_version"],
                evidence=transition.get("evidence", {}),
            )
        state.seen[key] = len(history)

    # -------------------------------------------------------------------------------------------- steps
    def labelled_rows(self) -> pd.DataFrame:
        """Served predictions joined with their labels, in time order."""
        return self.labels.rows()

    def _retrain(self, reason: str, result: TickResult, since: float | None) -> str | None:
        from driftline.train_jobs.retrain import RetrainStatus

        rows = self.labels.rows()
        if rows.empty:
            self._event(result, "retrain_skipped", "no labelled rows in the logs yet")
            return None
        stable = _rows_since_change((rows["prediction"] != rows["label"]).to_numpy())
        rows = rows.rename(columns={"label": self.labels.label_column()})
        # Learn from the rows since the change (older rows teach the old concept): ADWIN over the served error
        # stream keeps the longest recent stretch with one error rate; widen it only to the retrain's minimum.
        recent = rows if since is None else rows[rows["timestamp"] >= pd.Timestamp(since, unit="s", tz="UTC")]
        size = max(min(stable, len(recent)), self.loop_cfg.min_retrain_rows)
        window = rows.tail(min(size, self.loop_cfg.retrain_window_rows))
        older = rows.iloc[: max(0, len(rows) - len(window))]
        self._event(result, "retrain_started", f"retrain on {len(window)} labelled rows: {reason}")
        outcome = self.jobs.retrain(
            window,
            None if older.empty else older,
            reason[:200],
            f"{window['timestamp'].min()}..{window['timestamp'].max()}",
        )
        self._event(result, "retrain_finished", f"{outcome.status.value}: {outcome.reason}", evidence=outcome.to_dict())
        return outcome.version if outcome.status is RetrainStatus.CANDIDATE else None

    def _reweight(self, class_weights: Mapping[str, float], result: TickResult, since: float | None) -> str | None:
        """The cheap label-shift fix, judged on the window that showed the shift (not on older regimes)."""
        rows = self.labels.rows().rename(columns={"label": self.labels.label_column()})
        if since is not None and not rows.empty:
            rows = rows[rows["timestamp"] >= pd.Timestamp(since, unit="s", tz="UTC")]
        outcome = self.jobs.reweight(class_weights, rows.tail(self.loop_cfg.retrain_window_rows))
        if outcome.version is None:
            self._event(result, "reweight_skipped", outcome.reason)
            return None
        self._event(result, "reweight_finished", outcome.reason, evidence=outcome.evidence)
        return outcome.version if outcome.passed else None


def _quality(perf: dict[str, Any]) -> str:
    """'accuracy 0.741 vs baseline 0.862' (or RMSE), with the label-free estimate when there is one."""
    nan = float("nan")
    metric = perf.get("metric", "accuracy")
    current, baseline = perf.get("current"), perf.get("baseline")
    text = f"{metric} {nan if current is None else current:.3f} vs baseline {nan if baseline is None else baseline:.3f}"
    estimate = ((perf.get("estimated") or {}).get("accuracy") or {}).get("value")
    return text + (f" (estimated before labels {estimate:.3f})" if estimate is not None else "")
