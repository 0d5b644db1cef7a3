"""A model slot replica: serves whichever registered version the serving state assigns to its slot.

Each replica polls ``serving.json`` and loads its slot's version in the background; the old model keeps
answering until the new one is ready, so a reload never drops a request. Callers name the version they expect;
a replica that does not hold it yet raises :class:`ModelNotReady` (the router then uses the champion).

Fault injection for game days: a model version tagged ``driftline.fault_rate=<p>`` in MLflow fails that share of
its calls, and one tagged ``driftline.fault_delay_seconds=<s>`` answers that much late, so a canary's abort path
and the router's timeouts can be rehearsed with a real deployment.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from driftline.core.config import DriftlineConfig
from driftline.core.errors import ServingError
from driftline.model.bundle import ModelBundle, TabularMLP

__all__ = ["FAULT_DELAY_TAG", "FAULT_RATE_TAG", "LoadedModel", "ModelNotReady", "ModelReplica", "Prediction"]

FAULT_RATE_TAG = "driftline.fault_rate"
FAULT_DELAY_TAG = "driftline.fault_delay_seconds"  # game day: every answer of the version this much late


class ModelNotReady(ServingError):
    """This slot does not (yet) hold the version the caller expects."""


class InjectedFault(ServingError):
    """A failure injected on purpose by the version's fault_rate tag."""


@dataclass(frozen=True)
class Prediction:
    predictions: list[int]
    probabilities: list[list[float]]
    model_version: str


@dataclass(frozen=True)
class LoadedModel:
    version: str
    bundle: ModelBundle
    network: TabularMLP
    fault_rate: float = 0.0
    fault_delay: float = 0.0


class ModelReplica:
    """Serve deployment class (wrapped with ``serve.deployment`` by the app builder), one per slot name."""

    def __init__(self, config: dict[str, Any], slot: str, poll_seconds: float = 0.5) -> None:
        import torch

        torch.set_num_threads(1)  # many small replicas share 2 cores; intra-op threads would only fight
        from driftline.core.state_db import StateDB
        from driftline.serve_apps.serving_state import ServingStateStore

        self._cfg = DriftlineConfig.model_validate(config)
        self._slot = slot
        self._store = ServingStateStore(StateDB(self._cfg.state_url))
        self._model: LoadedModel | None = None
        self._load_error: str | None = None
        self._random = random.Random()
        self._sync()  # first load in the constructor: the replica is healthy only once it can answer
        self._stop = threading.Event()
        threading.Thread(target=self._poll, args=(poll_seconds,), daemon=True).start()

    def _wanted_version(self) -> str | None:
        from driftline.model.registry import CHAMPION, ModelRegistry

        state = self._store.load()
        if state is not None:
            return state.slots.get(self._slot)
        if self._model is not None:  # unreadable for a moment (the controller rewrites it): keep serving
            return self._model.version
        # No serving state yet (first start): slot "a" serves the champion alias.
        return ModelRegistry(self._cfg).resolve(f"@{CHAMPION}") if self._slot == "a" else None

    def _sync(self) -> None:
        wanted = self._wanted_version()
        if wanted is None or (self._model is not None and self._model.version == wanted):
            return
        from driftline.model.registry import ModelRegistry

        registry = ModelRegistry(self._cfg)
        bundle, version = registry.load_bundle(wanted)
        tags = registry.version_tags(version)
        fault_rate, fault_delay = float(tags.get(FAULT_RATE_TAG, 0.0)), float(tags.get(FAULT_DELAY_TAG, 0.0))
        self._model = LoadedModel(version, bundle, bundle.build_network().eval(), fault_rate, fault_delay)
        self._load_error = None

    def _poll(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            try:
                self._sync()
            except Exception as exc:  # keep serving the loaded model; the error shows in info()
                self._load_error = repr(exc)
                time.sleep(seconds)

    def _current(self, expected: str | None) -> LoadedModel:
        model = self._model
        if model is None or (expected is not None and model.version != expected):
            have = None if model is None else model.version
            raise ModelNotReady(f"Slot {self._slot} holds version {have}, not {expected}.", "Retry shortly.")
        return model

    def info(self) -> dict[str, Any]:
        model = self._current(None)
        return {
            "slot": self._slot,
            "version": model.version,
            "schema": model.bundle.preprocessor.schema.to_dict(),
            "load_error": self._load_error,
        }

    def predict(self, frame: pd.DataFrame | list[dict[str, Any]], expected_version: str | None = None) -> Prediction:
        model = self._current(expected_version)
        if isinstance(frame, list):  # the router sends validated rows: far cheaper to ship than a DataFrame
            frame = pd.DataFrame.from_records(frame, columns=list(model.bundle.preprocessor.schema.feature_names))
        if model.fault_rate and self._random.random() < model.fault_rate:
            raise InjectedFault(f"Injected failure (version {model.version} has {FAULT_RATE_TAG}).")
        if model.fault_delay:
            time.sleep(model.fault_delay)
        proba = model.bundle.predict_proba(frame, model.network)
        classes = np.asarray(model.bundle.classes)
        return Prediction(classes[proba.argmax(axis=1)].tolist(), proba.round(6).tolist(), model.version)

    def __del__(self) -> None:
        self._stop.set()
