"""The ``xgboost`` family: a booster over the encoded features; warm start continues boosting from the champion.

Binary tasks use ``binary:logistic``, more classes ``multi:softprob``, regression (no classes) ``reg:squarederror`` on
the standardised target. The booster travels as raw UBJSON bytes
inside the bundle, so loading it needs xgboost and nothing of driftline's training code.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(400, 3)).astype(np.float32); y = (x[:, 0] > 0).astype(int)
>>> raw = boost(x, y, n_classes=2, params={"max_depth": 2}, rounds=10, seed=0)
>>> proba = booster_proba(load_booster(raw), x, n_classes=2)
>>> proba.shape, bool(((proba[:, 1] > 0.5) == y).mean() > 0.9)
((400, 2), True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["DEFAULT_PARAMS", "boost", "booster_proba", "booster_rounds", "load_booster", "objective"]

DEFAULT_PARAMS: dict[str, Any] = {"max_depth": 4, "eta": 0.3, "tree_method": "hist", "nthread": 1}


def objective(n_classes: int) -> dict[str, Any]:
    """The learning objective: ``n_classes`` 0 is regression."""
    if n_classes == 0:
        return {"objective": "reg:squarederror", "eval_metric": "rmse"}
    if n_classes <= 2:
        return {"objective": "binary:logistic", "eval_metric": "logloss"}
    return {"objective": "multi:softprob", "num_class": n_classes, "eval_metric": "mlogloss"}


def training_params(params: dict[str, Any], n_classes: int, seed: int) -> dict[str, Any]:
    """The booster's parameters: defaults, then the user's, then the objective the task needs."""
    return {**DEFAULT_PARAMS, **params, **objective(n_classes), "seed": seed}


def load_booster(raw: bytes) -> Any:
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(bytearray(raw))
    return booster


def booster_rounds(raw: bytes) -> int:
    return int(load_booster(raw).num_boosted_rounds()) if raw else 0


def booster_proba(booster: Any, features: np.ndarray, n_classes: int) -> np.ndarray:
    """Class probabilities (rows x classes) for encoded ``features``."""
    out = np.asarray(booster.inplace_predict(features), dtype=np.float64)
    if n_classes <= 2:
        out = out.reshape(-1)
        return np.column_stack([1.0 - out, out])
    return out.reshape(len(features), n_classes)


def boost(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    n_classes: int,
    params: dict[str, Any],
    rounds: int,
    seed: int,
    init: bytes = b"",
    callbacks: list[Any] | None = None,
) -> bytes:
    """``rounds`` more boosting rounds on (features, labels), continuing ``init`` when given; the raw booster."""
    import xgboost

    dtrain = xgboost.DMatrix(features, label=labels)
    booster = xgboost.train(
        training_params(params, n_classes, seed),
        dtrain,
        num_boost_round=rounds,
        xgb_model=load_booster(init) if init else None,
        callbacks=callbacks or [],
    )
    return bytes(booster.save_raw("ubj"))
