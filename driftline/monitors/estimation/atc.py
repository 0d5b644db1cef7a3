"""ATC, average thresholded confidence (Garg et al., ICLR 2022): accuracy without labels from one threshold.

On the reference validation set pick the threshold ``t`` on a confidence score so that the share of rows scoring
above it equals the validation accuracy; on a window the estimate is the share above ``t``. Scores: ``max_confidence``
(the max probability) or ``negative_entropy`` (the paper's best, ATC-NE). The interval is Wilson's for that share:
window sampling noise only, given that the threshold still transfers (same caveat as CBPE: no label-free method
sees a change in P(y | x)).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> p1 = rng.random(4000); y = (rng.random(4000) < p1).astype(int)
>>> fit = fit_atc(np.c_[1 - p1, p1], y)
>>> est = atc_estimate(fit, np.c_[1 - p1, p1]).metrics["accuracy"]
>>> abs(est.value - fit.reference_accuracy) < 0.001, est.ci_low < est.value < est.ci_high
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from driftline.core.errors import DataError
from driftline.core.stats import wilson_interval
from driftline.monitors.estimation.result import MetricEstimate, PerformanceEstimate, check_probabilities

__all__ = ["ATC_SCORES", "ATCFit", "atc_estimate", "fit_atc"]

ATC_SCORES = ("negative_entropy", "max_confidence")


@dataclass(frozen=True)
class ATCFit:
    """The fitted threshold (``to_dict`` is plain JSON, for the reference profile)."""

    score: str
    threshold: float
    reference_accuracy: float

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "threshold": self.threshold, "reference_accuracy": self.reference_accuracy}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ATCFit:
        return cls(str(d["score"]), float(d["threshold"]), float(d["reference_accuracy"]))


def confidence_score(proba: np.ndarray, score: str) -> np.ndarray:
    """Per-row confidence: max probability, or negative entropy (0 for a one-hot row)."""
    if score == "max_confidence":
        return proba.max(axis=1)
    if score == "negative_entropy":
        p = np.clip(proba, 1e-12, 1.0)
        return (proba * np.log(p)).sum(axis=1)
    raise DataError(f"Unknown ATC score {score!r}.", f"Use one of {ATC_SCORES}.")


def fit_atc(proba: Any, labels: Any, score: str = "negative_entropy") -> ATCFit:
    """Fit the threshold on validation probabilities (n_rows, K) and labels (class indices)."""
    p, y = check_probabilities(proba, labels)
    s = confidence_score(p, score)
    accuracy = float((p.argmax(axis=1) == y).mean())
    # The (1 - accuracy) quantile leaves a share `accuracy` of the rows above it (up to ties).
    threshold = float(np.quantile(s, 1.0 - accuracy))
    return ATCFit(score, threshold, accuracy)


def atc_estimate(fit: ATCFit, proba: Any, confidence: float = 0.95) -> PerformanceEstimate:
    """Estimated accuracy of an unlabelled window: the share of its rows scoring above the fitted threshold."""
    p, _ = check_probabilities(proba)
    above = int((confidence_score(p, fit.score) > fit.threshold).sum())
    n = p.shape[0]
    low, high = wilson_interval(above, n, alpha=1.0 - confidence)
    return PerformanceEstimate("atc", n, {"accuracy": MetricEstimate(above / n, low, high, confidence)})
