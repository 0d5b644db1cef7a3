"""The torch tabular classifier and the bundle that keeps any model family together with its preprocessing.

A :class:`ModelBundle` is everything needed to predict: schema, fitted preprocessor, the family's model (the MLP's or
the user's torch module's weights, or an XGBoost booster), and optional per-class output weights (the cheap
label-shift fix re-weights outputs without retraining). See ``model/families`` for what each family adds.

>>> from driftline.datasets.synthetic import SYNTHETIC_SCHEMA, generate_stream
>>> from driftline.model.preprocess import TabularPreprocessor
>>> frame, _ = generate_stream("stationary", 100, seed=0)
>>> bundle = ModelBundle.create(TabularPreprocessor.fit(frame, SYNTHETIC_SCHEMA), hidden_sizes=(8,), seed=0)
>>> bundle.predict_proba(frame).shape
(100, 2)
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from driftline.core.errors import DataError
from driftline.datasets.schema import ClassValue
from driftline.model.preprocess import TabularPreprocessor

__all__ = ["ModelBundle", "TabularMLP"]


class TabularMLP(nn.Module):
    """A small multi-layer perceptron over encoded tabular features, producing class logits."""

    def __init__(self, n_inputs: int, hidden_sizes: tuple[int, ...], n_classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_inputs
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@dataclass
class ModelBundle:
    """Preprocessor + network config + weights: the unit that is trained, checkpointed, registered and served."""

    preprocessor: TabularPreprocessor
    hidden_sizes: tuple[int, ...]
    state_dict: dict[str, torch.Tensor]
    class_weights: tuple[float, ...] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    family: str = "mlp"
    factory: str | None = None  # torch family: the user's network factory, ``module:function``
    params: dict[str, Any] = field(default_factory=dict)  # the factory's keyword arguments, or the booster's params
    booster: bytes = b""  # xgboost family: the raw booster (empty before the first training)

    @classmethod
    def create(cls, preprocessor: TabularPreprocessor, hidden_sizes: tuple[int, ...], seed: int = 0) -> ModelBundle:
        torch.manual_seed(seed)
        net = TabularMLP(preprocessor.n_outputs, hidden_sizes, preprocessor.schema.n_outputs)
        return cls(preprocessor, tuple(hidden_sizes), {k: v.detach().clone() for k, v in net.state_dict().items()})

    @classmethod
    def create_family(
        cls,
        family: str,
        preprocessor: TabularPreprocessor,
        *,
        hidden_sizes: tuple[int, ...] = (32, 16),
        factory: str | None = None,
        params: dict[str, Any] | None = None,
        seed: int = 0,
    ) -> ModelBundle:
        """An untrained model of ``family`` (mlp, torch or xgboost) over ``preprocessor``."""
        params = dict(params or {})
        if family == "mlp":
            return cls.create(preprocessor, hidden_sizes, seed)
        if family == "xgboost":
            return cls(preprocessor, (), {}, family="xgboost", params=params)
        if family == "pyfunc":
            if not params.get("uri"):
                raise DataError("model.family is pyfunc but model.uri is not set.", "Set model.uri: models:/NAME/1.")
            return cls(preprocessor, (), {}, family="pyfunc", params=params)
        if family == "torch":
            if not factory:
                raise DataError("model.family is torch but model.factory is not set.", "Set model.factory: pkg.mod:fn.")
            from driftline.model.families.torch_factory import build_user_network

            torch.manual_seed(seed)
            net = build_user_network(factory, preprocessor.n_outputs, preprocessor.schema.n_outputs, params)
            weights = {k: v.detach().clone() for k, v in net.state_dict().items()}
            return cls(preprocessor, (), weights, family="torch", factory=factory, params=params)
        raise DataError(f"Unknown model family {family!r}.", "Use mlp, torch, xgboost or pyfunc.")

    def fresh(self, preprocessor: TabularPreprocessor, seed: int = 0) -> ModelBundle:
        """An untrained model of this bundle's family and settings (a cold start)."""
        return ModelBundle.create_family(
            self.family,
            preprocessor,
            hidden_sizes=self.hidden_sizes,
            factory=self.factory,
            params=self.params,
            seed=seed,
        )

    @property
    def classes(self) -> tuple[ClassValue, ...]:
        return self.preprocessor.schema.classes

    @property
    def is_regression(self) -> bool:
        return self.preprocessor.schema.is_regression

    def build_network(self) -> Any:
        """What predicts: a torch module with this bundle's weights loaded (the warm start is exactly this), or the
        xgboost booster."""
        if self.family == "pyfunc":
            from driftline.model.families.pyfunc_model import load_pyfunc

            return load_pyfunc(str(self.params["uri"]))
        if self.family == "xgboost":
            from driftline.model.families.xgboost_booster import load_booster

            if not self.booster:
                raise DataError("This xgboost model has not been trained yet.", "Train it before predicting.")
            return load_booster(self.booster)
        if self.family == "torch":
            from driftline.model.families.torch_factory import build_user_network

            assert self.factory is not None
            n_outputs = self.preprocessor.schema.n_outputs
            net = build_user_network(self.factory, self.preprocessor.n_outputs, n_outputs, self.params)
        else:
            net = TabularMLP(self.preprocessor.n_outputs, self.hidden_sizes, self.preprocessor.schema.n_outputs)
        net.load_state_dict(self.state_dict)
        return net

    def predictor(self) -> Any:
        """What serving holds once per loaded version: the network in eval mode, or the booster."""
        net = self.build_network()
        return net if self.family in ("xgboost", "pyfunc") else net.eval()

    def with_booster(self, raw: bytes, **metadata: Any) -> ModelBundle:
        return replace(self, booster=bytes(raw), metadata={**self.metadata, **metadata})

    def with_weights(self, state_dict: dict[str, torch.Tensor], **metadata: Any) -> ModelBundle:
        weights = {k: v.detach().cpu().clone() for k, v in state_dict.items()}
        return replace(self, state_dict=weights, metadata={**self.metadata, **metadata})

    def with_class_weights(self, weights: tuple[float, ...] | None) -> ModelBundle:
        if weights is not None and (len(weights) != len(self.classes) or min(weights) < 0 or sum(weights) <= 0):
            raise DataError(
                f"Class weights {weights} do not fit classes {self.classes}.", "Give one weight >= 0 per class."
            )
        return replace(self, class_weights=None if weights is None else tuple(float(w) for w in weights))

    def predict_proba(self, frame: pd.DataFrame, network: Any = None) -> np.ndarray:
        """Class probabilities, re-weighted by ``class_weights`` when set (Saerens et al. 2002 prior correction)."""
        if self.is_regression:
            raise DataError(
                f"The model predicts the number '{self.preprocessor.schema.label}', not class probabilities.",
                "Use predict() (or predict_values) for a regression model.",
            )
        net = network if network is not None else self.build_network()
        if self.family == "pyfunc":  # the user's model takes the raw columns and does its own preprocessing
            from driftline.model.families.pyfunc_model import pyfunc_proba

            proba, _ = pyfunc_proba(net, frame[list(self.preprocessor.schema.feature_names)], self.classes, self.uri)
            return self._reweighted(proba)
        features = self.preprocessor.transform(frame)
        if self.family == "xgboost":
            from driftline.model.families.xgboost_booster import booster_proba

            proba = booster_proba(net, features, len(self.classes))
        else:
            net.eval()
            with torch.no_grad():
                logits = net(torch.from_numpy(features))
                proba = torch.softmax(logits, dim=1).numpy().astype(np.float64)
        return self._reweighted(proba)

    def _reweighted(self, proba: np.ndarray) -> np.ndarray:
        if self.class_weights is not None:
            proba = proba * np.asarray(self.class_weights)
            proba /= proba.sum(axis=1, keepdims=True)
        return proba

    @property
    def uri(self) -> str:
        """pyfunc family: the MLflow model behind this bundle."""
        return str(self.params.get("uri", ""))

    def predict_values(self, frame: pd.DataFrame, network: Any = None) -> np.ndarray:
        """Regression: the predicted target per row (float64, in the target's own units)."""
        net = network if network is not None else self.build_network()
        if self.family == "pyfunc":
            from driftline.model.families.pyfunc_model import pyfunc_values

            return pyfunc_values(net, frame[list(self.preprocessor.schema.feature_names)], self.uri)
        features = self.preprocessor.transform(frame)
        if self.family == "xgboost":
            standardised = np.asarray(net.inplace_predict(features), dtype=np.float64).reshape(-1)
        else:
            net.eval()
            with torch.no_grad():
                standardised = net(torch.from_numpy(features)).numpy().astype(np.float64).reshape(-1)
        return self.preprocessor.decode_target(standardised)

    def predict(self, frame: pd.DataFrame, network: Any = None) -> np.ndarray:
        """The predicted class per row (the user's class values), or the predicted number for regression."""
        if self.is_regression:
            return self.predict_values(frame, network)
        return np.asarray(self.classes)[self.predict_proba(frame, network).argmax(axis=1)]

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        torch.save(
            {
                "preprocessor": self.preprocessor.to_dict(),
                "hidden_sizes": list(self.hidden_sizes),
                "state_dict": self.state_dict,
                "class_weights": None if self.class_weights is None else list(self.class_weights),
                "metadata": self.metadata,
                "family": self.family,
                "factory": self.factory,
                "params": self.params,
                "booster": torch.frombuffer(bytearray(self.booster), dtype=torch.uint8) if self.booster else None,
            },
            buffer,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, payload: bytes) -> ModelBundle:
        data = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
        weights = data.get("class_weights")
        return cls(
            preprocessor=TabularPreprocessor.from_dict(data["preprocessor"]),
            hidden_sizes=tuple(data["hidden_sizes"]),
            state_dict=data["state_dict"],
            class_weights=None if weights is None else tuple(weights),
            metadata=dict(data.get("metadata", {})),
            family=str(data.get("family", "mlp")),
            factory=data.get("factory"),
            params=dict(data.get("params") or {}),
            booster=b"" if data.get("booster") is None else data["booster"].numpy().tobytes(),
        )
