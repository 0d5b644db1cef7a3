"""CBPE, confidence-based performance estimation (NannyML): a model's accuracy, F1 and ROC AUC without labels.

Fit on the reference validation set: a calibrator of P(correct | confidence) (multiclass: top-label calibration of
the max probability) or of P(y = 1 | score) (binary). On an unlabelled window each row's calibrated probability
``c_i`` of a correct answer makes the window's correct count a sum of Bernoulli(``c_i``), so

    accuracy ≈ mean(c_i),   Var = sum c_i (1 - c_i) / n²  (normal interval)

For binary, F1 and ROC AUC are their expected confusion counts / expected pairwise order under the calibrated
P(y = 1); their interval comes from ``n_draws`` label draws. **What the interval means:** where the realised metric
of this window falls if the calibration still holds (P(y | score) as on the reference): label noise only, neither
the calibrator's own error nor a change in P(y | x) (concept drift), which no label-free method can see.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> p1 = rng.random(4000); y = (rng.random(4000) < p1).astype(int)
>>> fit = fit_cbpe(np.c_[1 - p1, p1], y)
>>> est = estimate_cbpe(fit, np.c_[1 - p1, p1])
>>> round(est.metrics["accuracy"].value, 2), sorted(est.metrics)
(0.75, ['accuracy', 'f1', 'roc_auc'])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata

from driftline.core.errors import DataError
from driftline.core.stats.result import normal_quantile
from driftline.monitors.estimation.calibration import Calibrator, fit_calibrator
from driftline.monitors.estimation.result import MetricEstimate, PerformanceEstimate, check_probabilities

__all__ = ["CBPEFit", "estimate_cbpe", "fit_cbpe"]

_WEIGHTS_HINT = "Pass mlls_prior(...).weights (or bbse_prior(...).weights): one weight per class, [w0, w1]."


@dataclass(frozen=True)
class CBPEFit:
    """What the reference profile stores for CBPE (``to_dict`` is plain JSON)."""

    n_classes: int
    calibrator: Calibrator
    reference_accuracy: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_classes": self.n_classes,
            "calibrator": self.calibrator.to_dict(),
            "reference_accuracy": self.reference_accuracy,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CBPEFit:
        return cls(int(d["n_classes"]), Calibrator.from_dict(d["calibrator"]), float(d["reference_accuracy"]))


def fit_cbpe(proba: Any, labels: Any, method: str = "isotonic") -> CBPEFit:
    """Fit CBPE on validation probabilities (n_rows, K) and labels (class indices); ``method``: isotonic|histogram."""
    p, y = check_probabilities(proba, labels)
    assert y is not None
    correct = p.argmax(axis=1) == y
    if p.shape[1] == 2:
        cal = fit_calibrator(p[:, 1], (y == 1).astype(float), method)
    else:
        cal = fit_calibrator(p.max(axis=1), correct.astype(float), method)
    return CBPEFit(p.shape[1], cal, float(correct.mean()))


def estimate_cbpe(
    fit: CBPEFit,
    proba: Any,
    confidence: float = 0.95,
    n_draws: int = 400,
    seed: int = 0,
    class_weights: Any = None,
) -> PerformanceEstimate:
    """Estimated metrics of an unlabelled window from the model's probabilities on it.

    ``class_weights`` (binary only): new prior / reference prior, e.g. ``mlls_prior(...).weights``; the calibrated
    P(y = 1) is then prior-corrected (Saerens et al. 2002) before estimating, for a window under label shift, where
    the reference calibration alone is biased towards the old prior.
    """
    p, _ = check_probabilities(proba)
    z = normal_quantile(0.5 + confidence / 2.0)
    if fit.n_classes == 2:
        q = np.clip(fit.calibrator(p[:, 1]), 0.0, 1.0)  # calibrated P(y = 1)
        if class_weights is not None:
            w = np.asarray(class_weights, dtype=np.float64)
            if w.shape != (2,) or (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
                raise DataError(f"class_weights must be 2 finite numbers >= 0, got {w.tolist()}.", _WEIGHTS_HINT)
            q = w[1] * q / np.maximum(w[1] * q + w[0] * (1.0 - q), 1e-300)
        predicted = p.argmax(axis=1) == 1
        c = np.where(predicted, q, 1.0 - q)
    else:
        if class_weights is not None:
            raise DataError("class_weights is supported for binary models only (top-label calibration).", "")
        c = np.clip(fit.calibrator(p.max(axis=1)), 0.0, 1.0)
    n = len(c)
    acc = float(c.mean())
    half = z * math.sqrt(float((c * (1.0 - c)).sum())) / n
    metrics = {"accuracy": MetricEstimate(acc, max(0.0, acc - half), min(1.0, acc + half), confidence)}
    if fit.n_classes == 2:
        metrics.update(_binary_metrics(q, predicted, p[:, 1], confidence, n_draws, seed))
    return PerformanceEstimate("cbpe", n, metrics)


def _binary_metrics(
    q: np.ndarray, predicted: np.ndarray, score: np.ndarray, confidence: float, n_draws: int, seed: int
) -> dict[str, MetricEstimate]:
    tp, fp = float(q[predicted].sum()), float((1.0 - q[predicted]).sum())
    fn = float(q[~predicted].sum())
    f1 = 2.0 * tp / (2.0 * tp + fp + fn) if tp + fp + fn > 0 else math.nan
    auc = _expected_auc(q, score)
    # Interval: the metrics of label draws y* ~ Bernoulli(q), in chunks so memory stays O(n * 50).
    rng = np.random.default_rng(seed)
    ranks = rankdata(score)
    f1s, aucs = [], []
    for start in range(0, n_draws, 50):
        y = rng.random((min(50, n_draws - start), q.size)) < q
        n1 = y.sum(axis=1).astype(np.float64)
        n0 = q.size - n1
        tp_d = (y & predicted).sum(axis=1)
        f1s.append(2.0 * tp_d / np.maximum(n1 + predicted.sum(), 1))
        with np.errstate(invalid="ignore", divide="ignore"):
            aucs.append((y @ ranks - n1 * (n1 + 1) / 2.0) / (n1 * n0))
    tail = (1.0 - confidence) / 2.0 * 100.0
    out = {}
    for name, value, draws in (("f1", f1, np.concatenate(f1s)), ("roc_auc", auc, np.concatenate(aucs))):
        low, high = np.nanpercentile(draws, [tail, 100.0 - tail])
        out[name] = MetricEstimate(float(value), float(low), float(high), confidence)
    return out


def _expected_auc(q: np.ndarray, score: np.ndarray) -> float:
    """E[#correctly ordered (pos, neg) pairs] / E[#pairs] when row i is positive with probability q_i."""
    _, group = np.unique(score, return_inverse=True)
    pos = np.bincount(group, weights=q)
    neg = np.bincount(group, weights=1.0 - q)
    self_pairs = np.bincount(group, weights=q * (1.0 - q))
    below = np.cumsum(neg) - neg  # negative mass strictly below each score
    ordered = float((pos * below).sum() + 0.5 * (pos * neg - self_pairs).sum())
    pairs = float(q.sum() * (1.0 - q).sum() - (q * (1.0 - q)).sum())
    return ordered / pairs if pairs > 0 else math.nan
