"""The closed loop: analyse the newest window -> decide -> retrain or re-weight -> roll out -> follow it.

One :meth:`ControlLoop.tick` is one pass; ``driftline run`` repeats it on a schedule. The loop never runs two
retrains or two rollouts at once (it waits while a rollout is active), persists its own state in
``<workdir>/state/loop.json`` (so a restart resumes), and any failing step is recorded on the timeline while
serving stays untouched.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from driftline.platform.config import DriftlineConfig
from driftline.platform.config_loader import load_yaml_model
from driftline.platform.policy import DecisionKind, PolicyState, decide
from driftline.platform.policy_config import PolicyConfig
from driftline.platform.timeline import Timeline

__all__ = ["ControlLoop", "ControlLoopConfig", "HttpRolloutClient", "RolloutClient", "TickResult"]

_TERMINAL = {"PROMOTED", "ROLLED_BACK"}
# Shadow, then a canary ramp, with RolloutSpec's documented defaults (see README "Safe rollout").
_DEFAULT_ROLLOUT: dict[str, Any] = {"mode": "shadow", "shadow": {"then_canary": True}}


class ControlLoopConfig(BaseModel):
    """``configs/loop.yaml``: how the loop runs and which rollout a passing candidate gets."""

    model_config = ConfigDict(extra="forbid", frozen=True)
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
    def status(self) -> dict[str, Any]: ...

    def start(self, spec: dict[str, Any]) -> dict[str, Any]: ...


class HttpRolloutClient:
    """The Serve app's admin API (``GET /rollout``, ``POST /rollout``) with the bearer token."""

    def __init__(self, base_url: str, token: str | None) -> None:
        import httpx

        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=30)
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    def status(self) -> dict[str, Any]:
        response = self._client.get("/rollout")
        response.raise_for_status()
        return dict(response.json())

    def start(self, spec: dict[str, Any]) -> dict[str, Any]:
        from driftline.platform.errors import RolloutError

        response = self._client.post("/rollout", json=spec, headers=self._headers)
        if response.status_code != 200:
            raise RolloutError(f"Starting the rollout failed ({response.status_code}): {response.text}")
        return dict(response.json())


@dataclass
class TickResult:
    action: str
    reason: str
    report: dict[str, Any] | None = None
    candidate: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)


def _policy_to_json(state: PolicyState) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(state):
        value = getattr(state, f.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = [v.isoformat() for v in value]
        out[f.name] = value
    return out


def _policy_from_json(data: dict[str, Any]) -> PolicyState:
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "retrain_times":
            values[key] = tuple(datetime.fromisoformat(v) for v in value)
        elif isinstance(value, str):
            values[key] = datetime.fromisoformat(value)
        else:
            values[key] = value
    return PolicyState(**values)


def _rows_since_change(errors: Any) -> int:
    """How many of the newest rows share one error rate, by ADWIN (Bifet & Gavalda 2007) over the error stream."""
    from driftline.monitors.detectors import ADWIN

    detector = ADWIN()
    for error in errors:
        detector.update(float(error))
    return int(detector.width)


class ControlLoop:
    """Holds the adapters; all state lives on disk between ticks."""

    def __init__(self, cfg: DriftlineConfig, loop_cfg: ControlLoopConfig, rollouts: RolloutClient) -> None:
        self.cfg, self.loop_cfg, self.rollouts = cfg, loop_cfg, rollouts
        state_dir = cfg.workdir_path / "state"
        self.timeline = Timeline(state_dir)
        self.state_path = state_dir / "loop.json"
        self.logs = cfg.workdir_path / "logs"
        self.policy_cfg = (
            load_yaml_model(loop_cfg.policy_file, PolicyConfig) if loop_cfg.policy_file else PolicyConfig()
        )

    # -------------------------------------------------------------------------------------------- state
    def _load(self, now: datetime) -> dict[str, Any]:
        if self.state_path.exists():
            raw = json.loads(self.state_path.read_text())
            raw["policy"] = _policy_from_json(raw["policy"])
            return raw
        return {"policy": PolicyState.start(now), "last_until": None, "seen_transitions": 0, "ticks": 0}

    def _save(self, state: dict[str, Any]) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({**state, "policy": _policy_to_json(state["policy"])}, indent=2))
        tmp.replace(self.state_path)

    def _event(self, result: TickResult, kind: str, message: str, **fields: Any) -> None:
        result.events.append(self.timeline.append(kind, message, **fields))

    # -------------------------------------------------------------------------------------------- tick
    def tick(self, now: datetime | None = None) -> TickResult:
        now = now or datetime.now(tz=timezone.utc)
        state = self._load(now)
        state["ticks"] += 1
        result = TickResult("wait", "")
        try:
            self._tick(state, now, result)
        except Exception as exc:  # the loop survives any failing step; serving is never touched by it
            result.action, result.reason = "error", f"{type(exc).__name__}: {exc}"
            self._event(result, "error", f"tick failed: {result.reason}")
        self._save(state)
        return result

    def _tick(self, state: dict[str, Any], now: datetime, result: TickResult) -> None:
        status = self.rollouts.status()
        self._follow_rollout(state, status, result)
        rollout = status.get("rollout")
        if rollout and rollout["phase"] not in _TERMINAL:
            result.action, result.reason = (
                "wait",
                f"rollout of v{rollout['spec']['candidate_version']} in {rollout['phase']}",
            )
            return
        until = time.time() - self.loop_cfg.settle_seconds
        state_since = state["last_until"]
        report = self._analyse(state_since, until)
        if report is None:
            result.reason = "not enough new traffic yet"
            return
        result.report = report
        state["last_until"] = until
        window = report["window"]
        summary = report["summary"]
        perf = report.get("performance") or {}
        self._event(
            result,
            "window_analysed",
            f"{window['rows']} rows ({window['labelled_rows']} labelled): "
            f"drifted {summary['drifted_features'] or 'none'}, "
            f"accuracy {perf.get('current', float('nan')):.3f} vs baseline {perf.get('baseline', float('nan')):.3f}, "
            f"label shift {'yes' if summary.get('label_shift') else 'no'}",
            evidence={"summary": summary, "performance": perf, "label_shift": report.get("label_shift")},
        )
        policy = state["policy"].observe(window["rows"], window["labelled_rows"])
        decision = decide(policy, report, now, self.policy_cfg)
        self._event(result, "decision", f"{decision.kind.value}: {decision.reason}", evidence=decision.evidence)
        result.action, result.reason = decision.kind.value, decision.reason
        candidate = None
        if decision.kind in (DecisionKind.RETRAIN, DecisionKind.UPDATE):
            candidate = self._retrain(decision.reason, result, since=state_since)
        elif decision.kind is DecisionKind.REWEIGHT:
            candidate = self._reweight(report, result, since=state_since)
        state["policy"] = policy.after(decision, now)
        if candidate is not None:
            spec = {**self.loop_cfg.rollout, "candidate_version": candidate}
            self.rollouts.start(spec)
            result.candidate = candidate
            self._event(result, "rollout_started", f"{spec['mode']} rollout of v{candidate}", evidence={"spec": spec})

    def _follow_rollout(self, state: dict[str, Any], status: dict[str, Any], result: TickResult) -> None:
        rollout = status.get("rollout")
        if not rollout:
            return
        key = f"{rollout.get('rollout_id')}"
        seen = state.get("seen", {}).get(key, 0)
        history = rollout.get("history", [])
        for transition in history[seen:]:
            kind = {"PROMOTED": "promoted", "ROLLED_BACK": "rolled_back"}.get(transition["to"], "rollout_transition")
            self._event(
                result,
                kind,
                f"v{rollout['spec']['candidate_version']}: {transition['from']} -> {transition['to']}: "
                f"{transition['reason']}",
                version=rollout["spec"]["candidate_version"],
                evidence=transition.get("evidence", {}),
            )
        state.setdefault("seen", {})[key] = len(history)

    # -------------------------------------------------------------------------------------------- steps
    def _analyse(self, since: float | None, until: float) -> dict[str, Any] | None:
        from driftline.monitors.drift_job import run_drift_job
        from driftline.platform.errors import DataError

        predictions = self.logs / "predictions"
        if not predictions.exists():
            return None
        feedback = self.logs / "feedback"
        start = None if since is None else datetime.fromtimestamp(since, tz=timezone.utc)
        try:
            report = run_drift_job(
                f"models:/{self.cfg.mlflow.model_name}@champion",
                predictions,
                config=self.cfg,
                drift_config=self.loop_cfg.drift_file,
                feedback=feedback if feedback.exists() else None,
                since=start,
                until=datetime.fromtimestamp(until, tz=timezone.utc),
                log_to_mlflow=True,
            )
        except DataError:
            return None  # an empty window: wait for traffic
        return report if report["window"]["rows"] >= self.loop_cfg.min_window_rows else None

    def labelled_rows(self) -> pd.DataFrame:
        """Served predictions joined with their labels, in time order."""
        from driftline.serve_apps.prediction_log import FEEDBACK, PREDICTIONS, ParquetSink

        sink = ParquetSink(self.logs)
        served = sink.read(PREDICTIONS)
        labels = sink.read(FEEDBACK, columns=["request_id", "row", "label"])
        if served.empty or labels.empty:
            return pd.DataFrame()
        served = served[served["role"] == "served"]
        joined = served.merge(labels.drop_duplicates(["request_id", "row"]), on=["request_id", "row"])
        return joined.sort_values("timestamp").reset_index(drop=True)

    def _retrain(self, reason: str, result: TickResult, since: float | None) -> str | None:
        from driftline.train_jobs.retrain import RetrainStatus, run_retrain
        from driftline.train_jobs.retrain_config import RetrainConfig

        rcfg = (
            load_yaml_model(self.loop_cfg.retrain_file, RetrainConfig)
            if self.loop_cfg.retrain_file
            else RetrainConfig()
        )
        rows = self.labelled_rows()
        if rows.empty:
            self._event(result, "retrain_skipped", "no labelled rows in the logs yet")
            return None
        stable = _rows_since_change((rows["prediction"] != rows["label"]).to_numpy())
        rows = rows.rename(columns={"label": self._label_column()})
        # Learn from the rows since the change (older rows teach the old concept): ADWIN over the served error
        # stream keeps the longest recent stretch with one error rate; widen it only to the retrain's minimum.
        recent = rows if since is None else rows[rows["timestamp"] >= pd.Timestamp(since, unit="s", tz="UTC")]
        size = max(min(stable, len(recent)), self.loop_cfg.min_retrain_rows)
        window = rows.tail(min(size, self.loop_cfg.retrain_window_rows))
        older = rows.iloc[: max(0, len(rows) - len(window))]
        self._event(result, "retrain_started", f"retrain on {len(window)} labelled rows: {reason}")
        outcome = run_retrain(
            self.cfg,
            rcfg,
            window,
            older=None if older.empty else older,
            trigger=reason[:200],
            data_window=f"{window['timestamp'].min()}..{window['timestamp'].max()}",
        )
        self._event(result, "retrain_finished", f"{outcome.status.value}: {outcome.reason}", evidence=outcome.to_dict())
        return outcome.version if outcome.status is RetrainStatus.CANDIDATE else None

    def _label_column(self) -> str:
        from driftline.platform.registry import ModelRegistry

        bundle, _ = ModelRegistry(self.cfg).load_bundle(f"models:/{self.cfg.mlflow.model_name}@champion")
        return bundle.preprocessor.schema.label

    def _reweight(self, report: dict[str, Any], result: TickResult, since: float | None) -> str | None:
        """The cheap label-shift fix: the champion with outputs re-weighted by estimated/reference prior."""
        from driftline.platform.registry import CANDIDATE, ModelRegistry
        from driftline.train_jobs.champion import profile_json
        from driftline.train_jobs.evaluate import evaluate
        from driftline.train_jobs.gates import not_worse_gate

        started = time.perf_counter()
        registry = ModelRegistry(self.cfg)
        bundle, parent = registry.load_bundle(f"models:/{self.cfg.mlflow.model_name}@champion")
        weights_by_class = (report.get("label_shift") or {}).get("class_weights") or {}
        ratio = [float(weights_by_class.get(str(c), 1.0)) for c in bundle.classes]
        # The champion's reference prior is what its outputs are already tuned for, so ratios compose.
        current = bundle.class_weights or (1.0,) * len(ratio)
        weights = tuple(w * r for w, r in zip(current, ratio, strict=True))
        candidate = bundle.with_class_weights(weights)
        rows = self.labelled_rows().rename(columns={"label": bundle.preprocessor.schema.label})
        if since is not None:  # judge the fix on the window that showed the shift, not on older regimes
            rows = rows[rows["timestamp"] >= pd.Timestamp(since, unit="s", tz="UTC")]
        recent = rows.tail(self.loop_cfg.retrain_window_rows)
        if len(recent) < 30:
            self._event(result, "reweight_skipped", f"only {len(recent)} labelled rows in the shifted window")
            return None
        judged = evaluate(candidate, recent)
        gate = not_worse_gate(
            judged.accuracy, evaluate(bundle, recent).accuracy, len(recent), self.loop_cfg.reweight_margin, min_rows=30
        )
        # The re-weighted model's reference is the shifted window it was judged on (its prior, its confusion
        # matrix): the next window then compares against the new prior, so a fix is not re-applied on top of itself.
        version = registry.register(
            candidate,
            profile_json=profile_json(
                recent, bundle.preprocessor.schema, judged.confusion_matrix, judged.accuracy, judged.n
            ),
            example=recent if not recent.empty else rows,
            metrics={"reweight_seconds": time.perf_counter() - started},
            params={"class_weights": list(weights)},
            tags={
                "driftline.trigger": "label_shift_reweight",
                "driftline.parent_version": parent,
                "driftline.gates": json.dumps({"passed": gate.passed, "reason": gate.reason}),
                **({} if gate.passed else {"driftline.rejected_reason": gate.reason}),
            },
            run_name=f"reweight-of-v{parent}",
        ).version
        seconds = time.perf_counter() - started
        self._event(
            result,
            "reweight_finished",
            f"v{version} = v{parent} re-weighted by {dict(zip(bundle.classes, weights, strict=True))} "
            f"in {seconds:.1f}s; "
            f"gate {'passed' if gate.passed else 'failed'}: {gate.reason}",
            evidence={"version": version, "weights": list(weights), "gate": gate.evidence, "seconds": seconds},
        )
        if not gate.passed:
            return None
        registry.set_alias(CANDIDATE, version)
        return version
