"""The versions of one registered model a process holds, and their predictions in micro-batches off the event loop.

The same host runs in both placements: inside every ingress replica (``inline``: champion and candidate beside the
router, no hop) and inside a slot deployment (``remote``). Versions are loaded by :meth:`ModelHost.hold`, which the
background poll calls (never a request): the versions held keep answering until the new set is loaded, then the
set is swapped at once, so a reload never drops a request. A call names the version it expects; a host that does
not hold it raises :class:`ModelNotReady`.

Fault injection for game days: a model version tagged ``driftline.fault_rate=<p>`` in MLflow fails that share of
its calls, and one tagged ``driftline.fault_delay_seconds=<s>`` answers that much late, so a canary's abort path
and the router's timeouts can be rehearsed with a real deployment.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from driftline.core.config import DriftlineConfig
from driftline.core.errors import ServingError
from driftline.datasets.schema import DatasetSchema
from driftline.model.bundle import ModelBundle
from driftline.serve_apps.micro_batch import MicroBatcher

__all__ = [
    "FAULT_DELAY_TAG",
    "FAULT_RATE_TAG",
    "InjectedFault",
    "LoadedModel",
    "ModelHost",
    "ModelNotReady",
    "Prediction",
    "load_version",
    "predict_frame",
]

FAULT_RATE_TAG = "driftline.fault_rate"
FAULT_DELAY_TAG = "driftline.fault_delay_seconds"  # game day: every answer of the version this much late


class ModelNotReady(ServingError):
    """This host does not (yet) hold the version the caller expects."""


class InjectedFault(ServingError):
    """A failure injected on purpose by the version's fault_rate tag."""


@dataclass(frozen=True)
class Prediction:
    predictions: list[Any]  # the user's class values, or numbers for a regression model
    probabilities: list[list[float]]  # per row; empty lists for a regression model
    model_version: str


_Call = tuple[pd.DataFrame | list[dict[str, Any]], str]  # (rows, the version the caller expects)


@dataclass(frozen=True)
class LoadedModel:
    version: str
    bundle: ModelBundle
    network: Any  # the torch module in eval mode, or the xgboost booster (ModelBundle.predictor)
    fault_rate: float = 0.0
    fault_delay: float = 0.0

    @property
    def schema(self) -> DatasetSchema:
        return self.bundle.preprocessor.schema


def load_version(cfg: DriftlineConfig, version: str) -> LoadedModel:
    """One registered version, ready to predict, with its game-day fault tags."""
    from driftline.model.registry import ModelRegistry

    registry = ModelRegistry(cfg)
    bundle, resolved = registry.load_bundle(version)
    tags = registry.version_tags(resolved)
    fault_rate, fault_delay = float(tags.get(FAULT_RATE_TAG, 0.0)), float(tags.get(FAULT_DELAY_TAG, 0.0))
    return LoadedModel(resolved, bundle, bundle.predictor(), fault_rate, fault_delay)


class ModelHost:
    """Holds versions of one registered model (``cfg.mlflow.model_name``) and answers batched calls for them."""

    def __init__(self, cfg: DriftlineConfig) -> None:
        import torch

        torch.set_num_threads(1)  # many small replicas share the cores; intra-op threads would only fight
        self._cfg = cfg
        self._models: dict[str, LoadedModel] = {}
        self._batchers: dict[str, MicroBatcher[_Call, Prediction]] = {}  # one per version: none holds up another
        self.load_error: str | None = None  # why the last load failed, if it did (the held versions still answer)
        self._random = random.Random()

    # ------------------------------------------------------------------ which versions are held
    @property
    def versions(self) -> frozenset[str]:
        return frozenset(self._models)

    def hold(self, versions: Iterable[str | None]) -> None:
        """Hold exactly ``versions`` (None entries ignored): load the missing ones (blocking: call it from a
        thread), then swap the set at once. A version that fails to load is skipped and named in ``load_error``;
        the others are held all the same."""
        wanted = {v for v in versions if v is not None}
        models = {v: m for v, m in self._models.items() if v in wanted}
        problems = []
        for version in sorted(wanted - models.keys()):
            try:
                models[version] = load_version(self._cfg, version)
            except Exception as exc:  # a corrupt artifact, MLflow down: the versions held keep answering
                problems.append(f"version {version}: {type(exc).__name__}: {exc}")
        batching = self._cfg.serve.batching
        self._batchers = {
            version: self._batchers.get(version)
            or MicroBatcher(self.answer, batching.max_batch_size, batching.wait_seconds, _delay(model))
            for version, model in models.items()
        }
        self._models = models
        self.load_error = "; ".join(problems) or None

    def model(self, version: str | None) -> LoadedModel:
        """The held ``version``; :class:`ModelNotReady` when it is not held (yet)."""
        model = self._models.get(version) if version is not None else None
        if model is None:
            held = ", ".join(sorted(self._models)) or "none"
            raise ModelNotReady(f"Version {version} is not loaded here (held: {held}).", "Retry shortly.")
        return model

    def schema(self, version: str | None) -> DatasetSchema:
        return self.model(version).schema

    # ------------------------------------------------------------------ predictions
    async def predict(self, rows: pd.DataFrame | list[dict[str, Any]], version: str) -> Prediction:
        """``version``'s answer for ``rows``; concurrent calls for one version are answered by one model call."""
        self.model(version)  # fail fast, before joining a batch
        batcher = self._batchers.get(version)
        if batcher is None:  # swapped out just now
            raise ModelNotReady(f"Version {version} is not loaded here.", "Retry shortly.")
        return await batcher.submit((rows, version))

    def answer(self, calls: list[_Call]) -> list[Prediction | Exception]:
        """One model call per version for the calls that expect a version held; an error for each other call."""
        answers: list[Prediction | Exception] = [ServingError("no answer")] * len(calls)
        groups: dict[str, list[int]] = {}
        models = self._models  # one set for the whole batch, even if a reload swaps it meanwhile
        for index, (_, version) in enumerate(calls):
            model = models.get(version)
            if model is None:
                answers[index] = ModelNotReady(f"Version {version} is not loaded here.", "Retry shortly.")
            elif model.fault_rate and self._random.random() < model.fault_rate:
                answers[index] = InjectedFault(f"Injected failure (version {version} has {FAULT_RATE_TAG}).")
            else:
                groups.setdefault(version, []).append(index)
        for version, members in groups.items():
            model = models[version]
            columns = list(model.schema.feature_names)
            frames = [
                rows if isinstance(rows, pd.DataFrame) else pd.DataFrame.from_records(rows, columns=columns)
                for rows, _ in (calls[i] for i in members)
            ]
            labels, probabilities = predict_frame(model, pd.concat(frames, ignore_index=True))
            start = 0
            for index, frame in zip(members, frames, strict=True):
                end = start + len(frame)
                answers[index] = Prediction(labels[start:end], probabilities[start:end], version)
                start = end
        return answers


def _delay(model: LoadedModel) -> Any:
    """Game day: a version tagged with a fault delay answers every batch that much late (the loop stays free)."""
    if not model.fault_delay:
        return None

    async def wait() -> None:
        await asyncio.sleep(model.fault_delay)

    return wait


def predict_frame(model: LoadedModel, batch: pd.DataFrame) -> tuple[list[Any], list[list[float]]]:
    """(predictions, probabilities) of one model call: the user's classes (or numbers) and per-class rows."""
    if model.bundle.is_regression:
        values = model.bundle.predict_values(batch, model.network).tolist()
        return values, [[] for _ in values]
    proba = model.bundle.predict_proba(batch, model.network)
    labels = np.asarray(model.bundle.classes)[proba.argmax(axis=1)].tolist()
    return labels, proba.round(6).tolist()
