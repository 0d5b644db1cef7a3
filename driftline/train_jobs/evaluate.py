"""Offline evaluation of a bundle on labelled rows: accuracy and the confusion matrix (rows true, cols predicted).

>>> from driftline.datasets.synthetic import SYNTHETIC_SCHEMA, generate_stream
>>> from driftline.model.preprocess import TabularPreprocessor
>>> frame, _ = generate_stream("stationary", 100, seed=0)
>>> bundle = ModelBundle.create(TabularPreprocessor.fit(frame, SYNTHETIC_SCHEMA), (8,))
>>> evaluate(bundle, frame).n
100
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from driftline.model.bundle import ModelBundle
from driftline.train_jobs.local_executor import encode_labels

__all__ = ["Evaluation", "evaluate"]


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    n: int
    confusion_matrix: np.ndarray

    def metrics(self, prefix: str = "val_") -> dict[str, float]:
        return {f"{prefix}accuracy": self.accuracy, f"{prefix}rows": float(self.n)}


def evaluate(bundle: ModelBundle, frame: pd.DataFrame) -> Evaluation:
    truth = encode_labels(frame, bundle)
    predicted = bundle.predict_proba(frame).argmax(axis=1)
    k = len(bundle.classes)
    matrix = np.bincount(truth * k + predicted, minlength=k * k).reshape(k, k)
    accuracy = float((truth == predicted).mean()) if len(truth) else float("nan")
    return Evaluation(accuracy, len(truth), matrix)
