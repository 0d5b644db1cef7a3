"""Label (prior) shift: observed prior, predicted prior, and the BBSE estimate of the new prior without labels.

BBSE (Lipton, Wang & Smola 2018, "Detecting and Correcting for Label Shift with Black Box Predictors"): if only
P(y) changed, the window's predicted-label distribution is ``mu_hat = C w`` with ``C[i, j] = P(pred=i, true=j)``
on validation data and ``w[j] = q(y=j) / p(y=j)``. Solve for ``w``, clip at 0, and the new prior is
``w * p(y)`` normalised. ``reweight_probabilities`` is the cheap fix for serving (Saerens et al. 2002): multiply
the classifier's probabilities by ``new_prior / reference_prior`` and renormalise.

>>> import numpy as np
>>> cm = np.array([[850, 50], [20, 80]])  # rows = true, cols = predicted
>>> est = bbse_prior(cm, np.array([500, 500]))
>>> [round(float(v), 2) for v in est.prior]
[0.4, 0.6]
>>> reweight_probabilities(np.array([[0.5, 0.5]]), np.array([1.0, 3.0])).tolist()
[[0.25, 0.75]]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from driftline.core.errors import DataError
from driftline.datasets.schema import ClassValue
from driftline.monitors.drift_config import LabelShiftConfig
from driftline.monitors.summaries import LabelSummary

__all__ = ["BBSEEstimate", "bbse_prior", "label_shift_section", "reweight_probabilities"]


MAX_CONDITION_NUMBER = 1e10  # above this C is numerically singular: the prior is not identifiable from predictions


@dataclass(frozen=True)
class BBSEEstimate:
    prior: np.ndarray  # estimated class prior in the window
    weights: np.ndarray  # q(y) / p_validation(y), clipped at 0
    condition_number: float  # of C; large means the classifier barely separates the classes (inf: C is singular)
    never_predicted: tuple[int, ...] = ()  # classes the model never predicted on validation (they make C singular)

    @property
    def identifiable(self) -> bool:
        return math.isfinite(self.condition_number) and self.condition_number <= MAX_CONDITION_NUMBER

    def note(self, classes: tuple[ClassValue, ...]) -> str | None:
        """Why the estimate cannot be trusted, or None when it can."""
        if self.identifiable:
            return None
        cause = (
            f"the model never predicted class(es) {', '.join(str(classes[i]) for i in self.never_predicted)} on "
            "validation"
            if self.never_predicted
            else "two classes are predicted alike on validation"
        )
        return (
            f"the validation confusion matrix is singular ({cause}): BBSE cannot identify the prior from predictions; "
            "its estimate is shown but not used"
        )


def bbse_prior(confusion: np.ndarray, predicted_counts: np.ndarray) -> BBSEEstimate:
    """BBSE estimate of the window's prior from the validation confusion counts and the window's predictions."""
    cm = np.asarray(confusion, dtype=np.float64)
    mu = np.asarray(predicted_counts, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != mu.shape[0] or cm.sum() <= 0 or mu.sum() <= 0:
        raise DataError(
            f"BBSE needs a square confusion matrix with counts and matching predicted counts; got {cm.shape}, "
            f"{mu.shape}.",
            "Store the validation confusion matrix (rows = true, cols = predicted) in the reference profile.",
        )
    c = cm.T / cm.sum()  # C[i, j] = P(pred = i, true = j)
    mu = mu / mu.sum()
    w, *_ = np.linalg.lstsq(c, mu, rcond=None)  # lstsq: still defined when C is singular
    w = np.clip(w, 0.0, None)
    p_val = cm.sum(axis=1) / cm.sum()
    prior = w * p_val
    prior = prior / prior.sum() if prior.sum() > 0 else p_val
    never = tuple(int(i) for i in np.flatnonzero(cm.sum(axis=0) == 0))
    return BBSEEstimate(prior, w, float(np.linalg.cond(c)), never)


def reweight_probabilities(proba: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Prior correction ``p_new ∝ w * p`` per row; a row whose weighted sum is 0 is returned unchanged."""
    p = np.asarray(proba, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if p.ndim != 2 or w.ndim != 1 or p.shape[1] != w.shape[0]:
        raise DataError(
            f"reweight_probabilities got probabilities {p.shape} and weights {w.shape}.",
            "Pass an (n_rows, n_classes) array and one weight per class.",
        )
    if (w < 0).any() or not np.isfinite(w).all():
        raise DataError(f"Class weights must be finite and >= 0, got {w.tolist()}.", "Use label_shift.class_weights.")
    scaled = p * w
    total = scaled.sum(axis=1, keepdims=True)
    ok = total[:, 0] > 0
    out = p.copy()
    out[ok] = scaled[ok] / total[ok]
    return out


def _as_dict(classes: tuple[ClassValue, ...], values: np.ndarray | None) -> dict[str, float] | None:
    return None if values is None else {str(c): float(v) for c, v in zip(classes, values, strict=True)}


def label_shift_section(
    classes: tuple[ClassValue, ...],
    reference_counts: np.ndarray | None,
    confusion: np.ndarray | None,
    window: LabelSummary,
    has_labels: bool,
    has_predictions: bool,
    cfg: LabelShiftConfig,
    alpha: float = 0.05,
    mlls: np.ndarray | None = None,
) -> dict[str, Any]:
    """The report's ``label_shift`` section (see REPORT_SCHEMA.md). ``mlls``: the window's prior by maximum
    likelihood (binary models with probabilities in the log), preferred to BBSE when there are too few labels."""
    ref = None
    if reference_counts is not None and reference_counts.sum() > 0:
        ref = reference_counts / reference_counts.sum()
    elif confusion is not None and confusion.sum() > 0:
        ref = confusion.sum(axis=1) / confusion.sum()
    n_lab, n_pred = int(window.label_counts.sum()), int(window.prediction_counts.sum())
    observed = window.label_counts / n_lab if has_labels and n_lab else None
    predicted = window.prediction_counts / n_pred if has_predictions and n_pred else None
    est: BBSEEstimate | None = None
    if confusion is not None and predicted is not None and n_pred >= cfg.min_predictions:
        est = bbse_prior(confusion, window.prediction_counts)
    best, source, p_value = None, None, None
    if observed is not None and n_lab >= cfg.min_labelled:
        best, source = observed, "observed"
        if ref is not None and (ref > 0).all():
            from scipy.stats import chisquare  # only when labels arrived: scipy.stats costs 0.7 s to import

            p_value = float(chisquare(window.label_counts, ref * n_lab).pvalue)
    elif mlls is not None and n_pred >= cfg.min_predictions:
        best, source = mlls, "mlls"
    elif est is not None and est.identifiable:
        best, source = est.prior, "bbse"
    tv = weights = None
    if best is not None and ref is not None:
        tv = float(0.5 * np.abs(best - ref).sum())
        weights = np.divide(best, ref, out=np.zeros_like(best), where=ref > 0)
    detected = bool(tv is not None and tv >= cfg.tv_threshold and (p_value is None or p_value < alpha))
    return {
        "reference_prior": _as_dict(classes, ref) or {},
        "observed_prior": _as_dict(classes, observed),
        "predicted_prior": _as_dict(classes, predicted),
        "estimated_prior": _as_dict(classes, None if est is None else est.prior),
        "class_weights": _as_dict(classes, weights),
        "total_variation": tv,
        "shift_detected": detected,
        "prior_source": source,
        "p_value": p_value,
        "threshold": cfg.tv_threshold,
        "labelled_rows": n_lab,
        "predicted_rows": n_pred,
        "bbse_condition_number": None
        if est is None or not math.isfinite(est.condition_number)
        else est.condition_number,
        "bbse_note": None if est is None else est.note(classes),
        "mlls_prior": _as_dict(classes, mlls),
        "prior_choice": _why(source),
    }


def _why(source: str | None) -> str | None:
    return {
        "observed": "enough labels: the observed label frequencies",
        "mlls": "too few labels: maximum likelihood (EM on BCTS-calibrated probabilities), never worse than BBSE in "
        "benchmarks/label_shift.py",
        "bbse": "too few labels and no per-row probabilities for maximum likelihood: BBSE from the confusion matrix",
    }.get(source or "")
