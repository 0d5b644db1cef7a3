"""Retrain the ``pyfunc`` family through the user's own function, as a Ray task.

``model.retrain: mypkg.train:fit`` is called as ``fit(train, valid, init_model) -> model``: ``train`` and ``valid``
are DataFrames of features and label (valid is the newest fifth), ``init_model`` the champion's raw model (the
scikit-learn estimator, say) for a warm start, or its MLflow pyfunc model. The function returns a fitted
scikit-learn estimator (driftline logs it to MLflow) or the URI of an MLflow model it logged itself.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from driftline.core.errors import TrainingError
from driftline.model.bundle import ModelBundle
from driftline.model.families.torch_factory import resolve_factory
from driftline.model.registry import ModelRegistry

__all__ = ["fit_pyfunc"]


def _call(entrypoint: str, train: pd.DataFrame, valid: pd.DataFrame, init_model: Any) -> Any:
    return resolve_factory(entrypoint)(train, valid, init_model)


def fit_pyfunc(
    registry: ModelRegistry, start: ModelBundle, frame: pd.DataFrame, entrypoint: str, *, on_ray: bool, cpus: float
) -> ModelBundle:
    """The candidate: ``start``'s family with the model the user's function returned."""
    cut = int(len(frame) * 0.8)
    train, valid = frame.iloc[:cut].reset_index(drop=True), frame.iloc[cut:].reset_index(drop=True)
    champion = start.build_network()
    try:
        init_model = champion.get_raw_model()
    except Exception:
        init_model = champion
    try:
        if on_ray:
            import ray

            task = ray.remote(num_cpus=cpus)(_call)
            model = ray.get(task.remote(entrypoint, train, valid, init_model))
        else:
            model = _call(entrypoint, train, valid, init_model)
    except Exception as exc:
        raise TrainingError(f"Your retrain function {entrypoint} failed: {exc}", "Fix it and retrain.") from exc
    uri = model if isinstance(model, str) else registry.log_estimator(model, run_name="pyfunc-retrain")
    return ModelBundle.create_family("pyfunc", start.preprocessor, params={**start.params, "uri": uri})
