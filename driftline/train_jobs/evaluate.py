"""Offline evaluation of a bundle on labelled rows: accuracy and the confusion matrix (rows true, cols predicted)
for a classifier; RMSE, MAE and the residuals' summary for a regression model.

Every evaluation names its ``metric`` (accuracy, or rmse for regression) and says whether higher is better, so the
gates compare candidate and champion without knowing the task.

>>> from driftline.datasets.synthetic import SYNTHETIC_SCHEMA, generate_stream
>>> from driftline.model.preprocess import TabularPreprocessor
>>> frame, _ = generate_stream("stationary", 100, seed=0)
>>> bundle = ModelBundle.create(TabularPreprocessor.fit(frame, SYNTHETIC_SCHEMA), (8,))
>>> e = evaluate(bundle, frame)
>>> e.n, e.metric, e.higher_is_better
(100, 'accuracy', True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from driftline.model.bundle import ModelBundle
from driftline.train_jobs.local_executor import encode_labels

__all__ = ["ConstantPredictor", "Evaluation", "constant_predictor", "evaluate"]


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    n: int
    confusion_matrix: np.ndarray
    rmse: float = math.nan  # regression only
    mae: float = math.nan
    predictions: np.ndarray = field(default_factory=lambda: np.empty(0))  # regression: the predicted values
    probabilities: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))  # classifier: per row and class
    truth: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # classifier: class index per row

    @property
    def is_regression(self) -> bool:
        return not math.isnan(self.rmse) or (self.n == 0 and self.confusion_matrix.size == 0)

    @property
    def metric(self) -> str:
        """The metric gates compare: accuracy, or rmse for regression."""
        return "rmse" if self.is_regression else "accuracy"

    @property
    def score(self) -> float:
        return self.rmse if self.is_regression else self.accuracy

    @property
    def higher_is_better(self) -> bool:
        return not self.is_regression

    def metrics(self, prefix: str = "val_") -> dict[str, float]:
        if self.is_regression:
            return {f"{prefix}rmse": self.rmse, f"{prefix}mae": self.mae, f"{prefix}rows": float(self.n)}
        return {f"{prefix}accuracy": self.accuracy, f"{prefix}rows": float(self.n)}

    def baseline(self) -> dict[str, float]:
        """What the reference profile keeps as the model's level: the metric(s) and the rows behind them."""
        if self.is_regression:
            return {"rmse": self.rmse, "mae": self.mae, "n": float(self.n)}
        return {"accuracy": self.accuracy, "n": float(self.n)}


def evaluate(bundle: ModelBundle, frame: pd.DataFrame) -> Evaluation:
    truth = encode_labels(frame, bundle)
    if bundle.is_regression:
        predicted = bundle.predict_values(frame) if len(frame) else np.empty(0)
        error = predicted - truth
        rmse = float(np.sqrt(np.mean(error**2))) if len(error) else math.nan
        mae = float(np.mean(np.abs(error))) if len(error) else math.nan
        return Evaluation(math.nan, len(truth), np.zeros((0, 0), np.int64), rmse, mae, predicted)
    proba = bundle.predict_proba(frame)
    predicted = proba.argmax(axis=1)
    k = len(bundle.classes)
    matrix = np.bincount(truth * k + predicted, minlength=k * k).reshape(k, k)
    accuracy = float((truth == predicted).mean()) if len(truth) else float("nan")
    return Evaluation(accuracy, len(truth), matrix, probabilities=proba, truth=truth)


@dataclass(frozen=True)
class ConstantPredictor:
    """The predictor a model must beat: its training rows' most common class (or mean target), scored on a holdout."""

    answer: str  # the class or the mean it always answers, for the reason
    score: float  # accuracy, or RMSE for regression, on the holdout
    metric: str


def constant_predictor(bundle: ModelBundle, train: pd.DataFrame, holdout: pd.DataFrame) -> ConstantPredictor:
    """Fit the constant on ``train`` (majority class or mean target) and score it on ``holdout``."""
    fitted, truth = encode_labels(train, bundle), encode_labels(holdout, bundle)
    if bundle.is_regression:
        mean = float(np.mean(fitted)) if len(fitted) else 0.0
        rmse = float(np.sqrt(np.mean((truth - mean) ** 2))) if len(truth) else math.nan
        return ConstantPredictor(f"the mean {mean:.4g}", rmse, "rmse")
    counts = np.bincount(fitted, minlength=len(bundle.classes))
    majority = int(counts.argmax())
    accuracy = float((truth == majority).mean()) if len(truth) else math.nan
    return ConstantPredictor(f"class {bundle.classes[majority]!r}", accuracy, "accuracy")
