"""The ``pyfunc`` family: any MLflow model the user registered (scikit-learn, a custom ``PythonModel``, ...).

The bundle holds the model's URI (``models:/their-model/3`` or ``runs:/...``); a replica loads it with
``mlflow.pyfunc.load_model`` and gives it the raw feature columns (the user's model does its own preprocessing).
Class probabilities come, in this order, from the raw model's ``predict_proba`` and ``classes_`` (scikit-learn),
from a ``predict`` that answers one column per class, or not at all: a model that answers labels only gets
one-hot "probabilities", and :data:`NO_PROBABILITIES` says what driftline then cannot do.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from driftline.core.errors import DataError
from driftline.datasets.schema import ClassValue, as_scalar, match_class

__all__ = ["NO_PROBABILITIES", "load_pyfunc", "pyfunc_proba", "pyfunc_values"]

NO_PROBABILITIES = (
    "this MLflow model answers labels, not class probabilities: driftline serves, monitors input drift, accuracy "
    "and label shift from labels, and rolls it out, but estimated performance before labels (CBPE), calibration "
    "and the BBSE label-shift estimate are not meaningful for it; log it with class probabilities "
    "(scikit-learn: pyfunc_predict_fn='predict_proba') to get them"
)


def load_pyfunc(uri: str) -> Any:
    import mlflow.pyfunc

    try:
        return mlflow.pyfunc.load_model(uri)
    except Exception as exc:
        raise DataError(
            f"Could not load the MLflow model {uri!r}: {exc}", "Check model.uri and that MLflow can reach it."
        ) from None


def _raw(model: Any) -> Any:
    try:
        return model.get_raw_model()
    except Exception:  # not every flavor exposes its raw model
        return None


def _same(value: Any, cls: ClassValue) -> bool:
    return match_class(value, (cls,)) is not None or str(value) == str(cls)


def _order(found: list[Any], classes: tuple[ClassValue, ...], uri: str) -> list[int]:
    """Position in the model's output of each of ``classes``."""
    positions = []
    for cls in classes:
        hit = [i for i, value in enumerate(found) if _same(value, cls)]
        if not hit:
            raise DataError(
                f"The MLflow model {uri} knows classes {found}, not {cls!r}.", "Train it on the same label values."
            )
        positions.append(hit[0])
    return positions


def pyfunc_proba(model: Any, frame: pd.DataFrame, classes: tuple[ClassValue, ...], uri: str) -> tuple[np.ndarray, bool]:
    """(class probabilities in ``classes`` order, whether the model gave real probabilities)."""
    raw = _raw(model)
    if raw is not None and hasattr(raw, "predict_proba") and hasattr(raw, "classes_"):
        proba = np.asarray(raw.predict_proba(frame), dtype=np.float64)
        return proba[:, _order(list(raw.classes_), classes, uri)], True
    out = model.predict(frame)
    if isinstance(out, pd.DataFrame) and out.shape[1] == len(classes):
        names = [str(c).removeprefix("proba_") for c in out.columns]
        return out.to_numpy(dtype=np.float64)[:, _order(names, classes, uri)], True
    values = np.asarray(out)
    if values.ndim == 2 and values.shape[1] == len(classes) and np.issubdtype(values.dtype, np.number):
        return values.astype(np.float64), True
    labels = values.reshape(-1)
    index = [_class_position(label, classes, uri) for label in labels]
    onehot = np.zeros((len(labels), len(classes)))
    onehot[np.arange(len(labels)), index] = 1.0
    return onehot, False


def pyfunc_values(model: Any, frame: pd.DataFrame, uri: str) -> np.ndarray:
    """Regression: the model's one number per row, as float64."""
    out = model.predict(frame)
    values = out.to_numpy() if isinstance(out, (pd.DataFrame, pd.Series)) else np.asarray(out)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1 or len(values) != len(frame):
        raise DataError(
            f"The MLflow model {uri} answered shape {values.shape} for {len(frame)} rows; a regression model answers "
            "one number per row.",
            "Log a model whose predict returns one value per row.",
        )
    try:
        return values.astype(np.float64)
    except (TypeError, ValueError):
        raise DataError(f"The MLflow model {uri} answered non-numbers for a regression target.", "Check it.") from None


def _class_position(label: Any, classes: tuple[ClassValue, ...], uri: str) -> int:
    for i, cls in enumerate(classes):
        if _same(label, cls):
            return i
    shown = as_scalar(label)
    raise DataError(f"The MLflow model {uri} answered {shown!r}, not one of {list(classes)}.", "Check its classes.")
