"""The shape every performance estimate returns: a value with an interval, per metric.

>>> MetricEstimate(0.8, 0.77, 0.83, 0.95).to_dict()["value"]
0.8
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from driftline.core.errors import DataError

__all__ = ["MetricEstimate", "PerformanceEstimate", "check_probabilities"]


@dataclass(frozen=True)
class MetricEstimate:
    """An estimated metric and its interval at ``confidence`` (what the interval covers is the estimator's doc)."""

    value: float
    ci_low: float
    ci_high: float
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PerformanceEstimate:
    """Estimated metrics of one unlabelled window, by name (``accuracy``; binary also ``f1``, ``roc_auc``)."""

    method: str
    n_rows: int
    metrics: dict[str, MetricEstimate] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "n_rows": self.n_rows,
            "metrics": {k: v.to_dict() for k, v in self.metrics.items()},
        }


def check_probabilities(proba: Any, labels: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate an (n_rows, n_classes) probability array and, if given, labels as class indices 0..K-1."""
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2 or p.shape[0] < 1:
        raise DataError(
            f"Expected class probabilities of shape (n_rows, n_classes >= 2), got {p.shape}.",
            "Pass the model's predict_proba output; for a binary model both columns [P(0), P(1)].",
        )
    if not np.isfinite(p).all() or (p < 0).any():
        raise DataError("Class probabilities must be finite and >= 0.", "Drop rows with NaN predictions.")
    if labels is None:
        return p, None
    y = np.asarray(labels)
    if y.shape != (p.shape[0],) or not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= p.shape[1]:
        raise DataError(
            f"Labels must be {p.shape[0]} integer class indices in [0, {p.shape[1] - 1}], got shape {y.shape}, "
            f"dtype {y.dtype}.",
            "Map the user's class values to column indices of the probability array first.",
        )
    return p, y.astype(np.int64)
