"""The rollout controller as a Serve deployment: the one writer of rollout and serving state, for every model.

Routers push their per-variant counter windows here (``observe``); every ``tick_seconds`` an active rollout is
stepped with what arrived since the last tick. Decisions are applied through two narrow adapters: the serving
state file (which slot serves which version, the traffic split) and MLflow aliases (promotion moves
``champion``; a rollback removes ``candidate``). State is on disk, so a restart resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any

from driftline.core.clock import MonotonicClock
from driftline.core.config import DriftlineConfig
from driftline.core.errors import RolloutError, ServingError
from driftline.core.state_db import model_state
from driftline.core.timeline import Timeline
from driftline.rollout.controller import RolloutController
from driftline.rollout.counters import Observation, VariantCounters
from driftline.rollout.spec import RolloutSpec
from driftline.rollout.state import RolloutState
from driftline.rollout.store import RolloutStore
from driftline.rollout.traffic import TrafficConfig
from driftline.serve_apps.serving_state import ServingState, ServingStateStore

__all__ = ["Controller", "MlflowAliases", "ModelControl", "ModelNotStarted", "ServingPublisher", "UnknownModel"]


class UnknownModel(ServingError):
    """The application serves no model of that name."""


class ModelNotStarted(ServingError):
    """The model is configured but its rollout control could not start yet (e.g. no champion registered)."""


def _latest_time(state: RolloutState | None) -> float:
    if state is None:
        return 0.0
    return max([state.started_at, state.step_started_at, *(t.time for t in state.history)])


class ServingPublisher:
    """TrafficPublisher that writes the serving state (slots follow the traffic config)."""

    def __init__(self, store: ServingStateStore, initial_champion: str) -> None:
        self.store = store
        self.state = store.load() or ServingState.initial(initial_champion)
        store.save(self.state)

    def publish(self, config: TrafficConfig) -> None:
        self.state = self.state.apply(config)
        self.store.save(self.state)


class MlflowAliases:
    """AliasMover over the MLflow registry."""

    def __init__(self, cfg: DriftlineConfig) -> None:
        self.cfg = cfg

    def promote(self, candidate_version: str, reason: str = "") -> None:
        from driftline.model.registry import CANDIDATE, CHAMPION, ModelRegistry

        registry = ModelRegistry(self.cfg)
        if registry.alias_version(CHAMPION) != candidate_version:
            registry.set_alias(CHAMPION, candidate_version, reason=f"rollout: {reason}" if reason else "rollout")
        if registry.alias_version(CANDIDATE) == candidate_version:
            registry.delete_alias(CANDIDATE)

    def rollback(self) -> None:
        from driftline.model.registry import CANDIDATE, ModelRegistry

        ModelRegistry(self.cfg).delete_alias(CANDIDATE)


class RegistryGates:
    """Reads a version's offline-gate verdict from its registry tags (``driftline.gates``)."""

    def __init__(self, cfg: DriftlineConfig) -> None:
        self.cfg = cfg

    def verdict(self, version: str) -> str:
        """'passed', 'rejected: <reason>' or 'no gates recorded'; an unknown version is a RolloutError."""
        from driftline.model.registry import ModelRegistry

        registry = ModelRegistry(self.cfg)
        try:
            tags = registry.version_tags(version)
        except Exception as exc:
            raise RolloutError(
                f"Version {version} of {registry.name!r} is not in the registry at {self.cfg.registry_uri}: {exc}",
                "Roll out a registered version (the MLflow UI lists them).",
            ) from None
        if "driftline.rejected_reason" in tags:
            return f"rejected: {tags['driftline.rejected_reason'][:300]}"
        return "passed" if "driftline.gates" in tags else "no gates recorded"


# MLflow's client retries a refused connection 7 times with backoff (about 4 minutes) and waits 120 s for an
# answer. In the controller that would hold its lock through an outage (admin calls wait, nothing is reported) and
# leave the alias up to 2 minutes behind a recovered server. The controller retries every tick itself, so its
# MLflow calls fail fast; a value set in the environment wins.
_CONTROLLER_MLFLOW_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


class ModelControl:
    """The rollout control of one model: its serving state, rollout state, timeline and counters window."""

    def __init__(self, cfg: DriftlineConfig) -> None:
        from driftline.model.registry import CHAMPION, ModelRegistry

        serving_store = ServingStateStore(model_state(cfg))
        existing = serving_store.load()
        champion = existing.traffic.champion_version if existing else ModelRegistry(cfg).resolve(f"@{CHAMPION}")
        self.publisher = ServingPublisher(serving_store, champion)
        self.controller = RolloutController(
            RolloutStore(model_state(cfg)),
            self.publisher,
            MlflowAliases(cfg),
            lambda: self.publisher.state.traffic.champion_version,
        )
        self.timeline = Timeline(model_state(cfg))
        self.gates = RegistryGates(cfg)
        stored = self._load_or_quarantine()
        # Decisions use a monotonic clock anchored at the newest persisted time: wall-clock steps change nothing.
        self.clock = MonotonicClock(floor=_latest_time(stored))
        self.controller.reconcile_pending()
        self._window = {"champion": VariantCounters(), "candidate": VariantCounters()}
        self._lock = threading.Lock()
        self._last: dict[str, Any] = {}

    def _load_or_quarantine(self) -> RolloutState | None:
        """An unreadable rollout document must not stop the app: move it aside, say so, serve the champion."""
        try:
            return self.controller.status()
        except RolloutError as exc:
            moved = self.controller.store.quarantine()
            self.timeline.append(
                "state_unreadable", f"{exc} Moved to {moved}; no rollout is active, the champion serves everyone."
            )
            return None

    def observe(self, window: dict[str, dict[str, Any]]) -> None:
        with self._lock:
            for variant, counters in window.items():
                self._window[variant] = self._window[variant] + VariantCounters.from_dict(counters)

    def tick(self) -> dict[str, Any] | None:
        state = self._load_or_quarantine()  # first: a corrupt file is moved aside before anything reads it again
        if not self.controller.reconcile_pending():
            self._last = {"error": f"effects pending: {self.controller.effect_error}", "at": time.time()}
        elif str(self._last.get("error", "")).startswith("effects pending"):  # a finished rollout: say they took
            self._last = {
                "action": "EFFECTS_APPLIED",
                "reason": "the pending traffic and aliases took",
                "at": time.time(),
            }
        if state is None or state.terminal:
            with self._lock:  # nothing to decide: drop the window so it does not leak into the next rollout
                self._window = {"champion": VariantCounters(), "candidate": VariantCounters()}
            return None
        with self._lock:
            window, self._window = self._window, {"champion": VariantCounters(), "candidate": VariantCounters()}
        decision = self.controller.tick(Observation(self.clock.now(), window["champion"], window["candidate"]))
        self._last = {"action": decision.action.value, "reason": decision.reason, "at": time.time()}
        return self._last

    def start(self, spec: dict[str, Any], force: bool = False) -> dict[str, Any]:
        """Start a declared rollout of a registered version whose offline gates passed (or ``force``)."""
        parsed = RolloutSpec.model_validate(spec)
        if parsed.candidate_version == self.publisher.state.traffic.champion_version:
            raise RolloutError(
                f"Version {parsed.candidate_version} is already the champion.", "Roll out a different version."
            )
        verdict = self.gates.verdict(parsed.candidate_version)
        if verdict.startswith("rejected") and not force:
            raise RolloutError(
                f"Version {parsed.candidate_version} failed its offline gates ({verdict}).",
                "Roll out a version that passed, or pass force=true (recorded on the timeline) to override.",
            )
        self.controller.start(parsed, self.clock.now())
        self.timeline.append(
            "rollout_requested",
            f"{parsed.mode.value} rollout of v{parsed.candidate_version} requested via the admin API"
            f" ({verdict}{'; FORCED' if force else ''})",
            version=parsed.candidate_version,
            evidence={"spec": parsed.model_dump(mode="json"), "gates": verdict, "force": force},
        )
        return self.status()

    def promote(self, reason: str = "manual promote") -> dict[str, Any]:
        decision = self.controller.promote(self.clock.now(), reason)
        self.timeline.append("manual_promote", reason, version=decision.state.spec.candidate_version)
        return self.status()

    def abort(self, reason: str = "manual abort") -> dict[str, Any]:
        decision = self.controller.abort(self.clock.now(), reason)
        self.timeline.append("manual_abort", reason, version=decision.state.spec.candidate_version)
        return self.status()

    def history(self, alias: str = "champion", at: float | None = None) -> dict[str, Any]:
        """Which version held ``alias`` at ``at`` (default: now), since when and why, from the timeline."""
        from driftline.core.alias_history import history_answer

        return history_answer(self.timeline.read(), alias, at)

    def serving(self) -> dict[str, Any]:
        return self.publisher.state.to_dict()

    def status(self) -> dict[str, Any]:
        state = self._load_or_quarantine()
        return {
            "rollout": None if state is None else state.to_dict(),
            "serving": self.publisher.state.to_dict(),
            "last_tick": self._last,
            "timeline": self.timeline.read(last=50),
        }

    def failed_tick(self, exc: Exception) -> None:
        self._last = {"error": repr(exc), "at": time.time()}


class Controller:
    """Serve deployment class (one replica): the rollout control of every model the application serves, each on
    its own state; every ``tick_seconds`` each model's rollout is stepped, and one model's failure (a missing
    champion, a database error in its tick) never stops another's. Operations name the model (its served name)."""

    def __init__(self, config: dict[str, Any], tick_seconds: float = 1.0) -> None:
        for name, value in _CONTROLLER_MLFLOW_ENV.items():  # this replica's own process: see the constant
            os.environ.setdefault(name, value)
        cfg = DriftlineConfig.model_validate(config)
        served = cfg.served_models()
        if len(served) == 1:  # state written before it was per model belongs to the one model served
            model_state(cfg.for_model(served[0])).adopt_unscoped()
        self._configs = {m.name: cfg.for_model(m) for m in served}
        self._models: dict[str, ModelControl] = {}
        self._broken: dict[str, str] = {}  # model -> why its control could not start (retried every tick)
        for name in self._configs:
            self._start_model(name)
        self._tick_seconds = tick_seconds
        self._stop = threading.Event()
        threading.Thread(target=self._loop, daemon=True).start()

    def _start_model(self, name: str) -> None:
        try:
            self._models[name] = ModelControl(self._configs[name])
            self._broken.pop(name, None)
        except Exception as exc:  # e.g. no champion registered yet: this model waits, the others run
            self._broken[name] = f"{type(exc).__name__}: {exc}"

    def _loop(self) -> None:
        while not self._stop.wait(self._tick_seconds):
            for name in list(self._broken):
                self._start_model(name)
            for control in list(self._models.values()):
                try:
                    control.tick()
                except Exception as exc:  # a failed tick must not kill the loop; it is visible in status()
                    control.failed_tick(exc)

    def model(self, name: str) -> ModelControl:
        """The model's control; a ServingError naming the models served, or why this one could not start."""
        control = self._models.get(name)
        if control is not None:
            return control
        if name in self._broken:
            raise ModelNotStarted(f"Model {name!r} is not ready: {self._broken[name]}", "It is retried every second.")
        raise UnknownModel(f"No model named {name!r} is served here.", f"Served: {', '.join(sorted(self._configs))}.")

    def models(self) -> dict[str, str | None]:
        """Every model served, with why it is not ready (None when it is)."""
        return {name: self._broken.get(name) for name in self._configs}

    def observe(self, windows: dict[str, dict[str, dict[str, Any]]]) -> None:
        """Counter windows of a router replica, by model (one call a poll for all its models)."""
        for model, window in windows.items():
            with contextlib.suppress(ServingError):  # a model not started: its counters have no rollout to feed
                self.model(model).observe(window)

    def start(self, model: str, spec: dict[str, Any], force: bool = False) -> dict[str, Any]:
        return self.model(model).start(spec, force)

    def promote(self, model: str, reason: str = "manual promote") -> dict[str, Any]:
        return self.model(model).promote(reason)

    def abort(self, model: str, reason: str = "manual abort") -> dict[str, Any]:
        return self.model(model).abort(reason)

    def history(self, model: str, alias: str = "champion", at: float | None = None) -> dict[str, Any]:
        return self.model(model).history(alias, at)

    def serving(self, model: str) -> dict[str, Any]:
        return self.model(model).serving()

    def status(self, model: str) -> dict[str, Any]:
        return self.model(model).status()

    def __del__(self) -> None:
        self._stop.set()
