"""A model slot replica: serves whichever registered version the serving state assigns to its slot.

Each replica polls the serving state and loads its slot's version in the background; the old model keeps
answering until the new one is ready, so a reload never drops a request. Callers name the version they expect;
a replica that does not hold it yet raises :class:`ModelNotReady` (the router then uses the champion).

Fault injection for game days: a model version tagged ``driftline.fault_rate=<p>`` in MLflow fails that share of
its calls, and one tagged ``driftline.fault_delay_seconds=<s>`` answers that much late, so a canary's abort path
and the router's timeouts can be rehearsed with a real deployment.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from ray import serve

from driftline.core.config import DriftlineConfig
from driftline.core.errors import ServingError
from driftline.model.bundle import ModelBundle

__all__ = ["FAULT_DELAY_TAG", "FAULT_RATE_TAG", "LoadedModel", "ModelNotReady", "ModelReplica", "Prediction"]

FAULT_RATE_TAG = "driftline.fault_rate"
FAULT_DELAY_TAG = "driftline.fault_delay_seconds"  # game day: every answer of the version this much late


class ModelNotReady(ServingError):
    """This slot does not (yet) hold the version the caller expects."""


class InjectedFault(ServingError):
    """A failure injected on purpose by the version's fault_rate tag."""


@dataclass(frozen=True)
class Prediction:
    predictions: list[Any]  # the user's class values, or numbers for a regression model
    probabilities: list[list[float]]  # per row; empty lists for a regression model
    model_version: str


_Call = tuple[pd.DataFrame | list[dict[str, Any]], str | None]  # (rows, the version the caller expects)


@dataclass(frozen=True)
class LoadedModel:
    version: str
    bundle: ModelBundle
    network: Any  # the torch module in eval mode, or the xgboost booster (ModelBundle.predictor)
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
        batching = self._cfg.serve.batching
        self._predict_batch.set_max_batch_size(batching.max_batch_size)  # type: ignore[attr-defined]
        self._predict_batch.set_batch_wait_timeout_s(batching.wait_seconds)  # type: ignore[attr-defined]
        self._stop = threading.Event()
        self._sync()  # first load in the constructor: the replica is healthy only once it can answer
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
        self._model = LoadedModel(version, bundle, bundle.predictor(), fault_rate, fault_delay)
        self._load_error = None

    def _poll(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            try:
                self._sync()
            except Exception as exc:  # keep serving the loaded model; the error shows in info()
                self._load_error = repr(exc)
                time.sleep(seconds)

    def _current(self, expected: str | None, held: LoadedModel | None = None) -> LoadedModel:
        """The model held (``held``, else the current one) if it is the ``expected`` version."""
        model = held or self._model
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

    async def predict(
        self, frame: pd.DataFrame | list[dict[str, Any]], expected_version: str | None = None
    ) -> Prediction:
        """The model's answer for ``frame``; concurrent calls are answered together in one model call."""
        answer = await self._predict_batch((frame, expected_version))
        if isinstance(answer, Exception):  # this call's own failure, not its batch's
            raise answer
        return answer

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.002)  # sizes from config: set in __init__
    async def _predict_batch(self, calls: list[_Call]) -> list[Prediction | Exception]:
        model = self._model
        delay = model.fault_delay if model is not None else 0.0
        if delay:  # game day: the whole batch answers late, without blocking the replica's event loop
            await asyncio.sleep(delay)
        return await asyncio.to_thread(self._answer, calls)  # off the loop: the next batch forms meanwhile

    def _answer(self, calls: list[_Call]) -> list[Prediction | Exception]:
        """One model call for every call that expects the version held; an error for each that does not."""
        answers: list[Prediction | Exception | None] = [None] * len(calls)
        frames: list[pd.DataFrame] = []
        members: list[tuple[int, int]] = []  # (call, rows)
        model = self._model  # one model for the whole batch, even if a reload swaps it meanwhile
        for index, (frame, expected) in enumerate(calls):
            try:
                model = self._current(expected, model)
                if model.fault_rate and self._random.random() < model.fault_rate:
                    raise InjectedFault(f"Injected failure (version {model.version} has {FAULT_RATE_TAG}).")
            except ServingError as exc:
                answers[index] = exc
                continue
            if isinstance(frame, list):  # the router sends validated rows: far cheaper to ship than a DataFrame
                frame = pd.DataFrame.from_records(frame, columns=list(model.bundle.preprocessor.schema.feature_names))
            frames.append(frame)
            members.append((index, len(frame)))
        if frames and model is not None:
            batch = pd.concat(frames, ignore_index=True)
            if model.bundle.is_regression:
                labels = model.bundle.predict_values(batch, model.network).tolist()
                probabilities: list[list[float]] = [[] for _ in labels]
            else:
                proba = model.bundle.predict_proba(batch, model.network)
                labels = np.asarray(model.bundle.classes)[proba.argmax(axis=1)].tolist()
                probabilities = proba.round(6).tolist()
            start = 0
            for index, rows in members:
                end = start + rows
                answers[index] = Prediction(labels[start:end], probabilities[start:end], model.version)
                start = end
        return [a if a is not None else ServingError("no answer") for a in answers]

    def __del__(self) -> None:
        self._stop.set()
