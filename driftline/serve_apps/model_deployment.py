"""A model replica: loads one registered version (by alias or number) and predicts on DataFrames.

The model to serve is the replica's ``user_config`` (``{"model_ref": "champion" | "7", "class_weights": ...}``),
so pointing a slot at another version is ``reconfigure``: replicas swap models in place, without a restart and
without dropping requests (the old model answers until the new one is loaded).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from driftline.platform.config import DriftlineConfig
from driftline.platform.errors import ServingError
from driftline.train_jobs.model import ModelBundle, TabularMLP

__all__ = ["LoadedModel", "ModelReplica", "Prediction"]


@dataclass(frozen=True)
class Prediction:
    predictions: list[int]
    probabilities: list[list[float]]
    model_version: str


@dataclass(frozen=True)
class LoadedModel:
    ref: str
    version: str
    bundle: ModelBundle
    network: TabularMLP


class ModelReplica:
    """Serve deployment class (wrapped with ``serve.deployment`` by the app builder)."""

    def __init__(self, config: dict[str, Any]) -> None:
        import torch

        torch.set_num_threads(1)  # many small replicas share 2 cores; intra-op threads would only fight
        self._cfg = DriftlineConfig.model_validate(config)
        self._model: LoadedModel | None = None
        self._lock = threading.Lock()

    def _load(self, ref: str, class_weights: list[float] | None) -> LoadedModel:
        from driftline.platform.registry import ModelRegistry

        bundle, version = ModelRegistry(self._cfg).load_bundle(ref)
        if class_weights is not None:
            bundle = bundle.with_class_weights(tuple(class_weights))
        return LoadedModel(ref, version, bundle, bundle.build_network().eval())

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        ref = str(user_config.get("model_ref", "champion"))
        weights = user_config.get("class_weights")
        loaded = self._load(ref, weights)
        with self._lock:
            self._model = loaded

    def _current(self) -> LoadedModel:
        if self._model is None:
            raise ServingError("This replica has no model loaded yet.", "Deploy it with user_config model_ref set.")
        return self._model

    def info(self) -> dict[str, Any]:
        model = self._current()
        return {"version": model.version, "ref": model.ref, "schema": model.bundle.preprocessor.schema.to_dict()}

    def predict(self, frame: pd.DataFrame) -> Prediction:
        model = self._current()
        proba = model.bundle.predict_proba(frame, model.network)
        classes = np.asarray(model.bundle.classes)
        return Prediction(classes[proba.argmax(axis=1)].tolist(), proba.round(6).tolist(), model.version)
