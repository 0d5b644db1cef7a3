"""A user's own scikit-learn model and retrain function (the ``pyfunc`` family in the tests)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = ["x0", "x1", "x2", "x3", "x4"]


def pipeline() -> Pipeline:
    columns = ColumnTransformer(
        [("num", StandardScaler(), NUMERIC), ("cat", OneHotEncoder(handle_unknown="ignore"), ["region"])]
    )
    return Pipeline([("columns", columns), ("model", LogisticRegression(max_iter=500))])


def fit(train: pd.DataFrame, valid: pd.DataFrame, init_model: Any) -> Pipeline:
    """driftline's retrain contract: fit(train, valid, init_model) -> a fitted estimator (valid is unused here)."""
    model = clone(init_model) if init_model is not None else pipeline()
    model.fit(train[[*NUMERIC, "region"]], train["y"])
    return model
