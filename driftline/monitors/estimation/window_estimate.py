"""Label-free estimates inside the drift report: fitted on the validation set at training time
(:func:`fit_reference_estimators`, stored in the reference profile), applied to a window's histogram of model
scores (:func:`estimate_window`).

The window summary keeps one score per row: P(class 1) for a binary model, the top probability otherwise, counted
in :data:`SCORE_BINS` equal-width bins on [0, 1]. The counts add up across Ray Data blocks, so both engines give the
same estimate; each bin's middle stands for its rows (at most 0.0005 off). From the histogram:

- **CBPE** accuracy (binary: F1 and ROC AUC too, intervals from binomial label draws per bin), as ``cbpe.py``.
- **ATC**: binary on the negative entropy of P(class 1), multiclass on the top probability (the one score kept).
- **MLLS**: the window's prior by EM on BCTS-calibrated probabilities, from the histogram for a binary model and
  from the window's 2,000 sampled probability rows (``joint_sample.py``) for more classes. For binary, CBPE's
  headline estimate is
  prior-corrected with it (``cbpe+mlls``), which measured 15x closer than plain CBPE under label shift and no worse
  under covariate shift (``benchmarks/performance_estimation.py``).

>>> rng = np.random.default_rng(0)
>>> p1 = rng.random(4000); y = (rng.random(4000) < p1).astype(int)
>>> fits = fit_reference_estimators(np.c_[1 - p1, p1], y)
>>> est = estimate_window(fits, score_histogram(p1))
>>> est["method"], round(est["accuracy"]["value"], 2), round(est["atc"]["value"], 2), float(((p1 > 0.5) == y).mean())
('cbpe+mlls', 0.74, 0.74, 0.74375)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from driftline.core.stats import wilson_interval
from driftline.core.stats.result import normal_quantile
from driftline.monitors.estimation.atc import ATCFit, confidence_score, fit_atc
from driftline.monitors.estimation.cbpe import CBPEFit, fit_cbpe
from driftline.monitors.label_shift_mlls import BCTSCalibration, fit_bcts, logits_from_probabilities, mlls_prior

__all__ = ["SCORE_BINS", "estimate_window", "fit_reference_estimators", "mlls_from_rows", "score_histogram", "score_of"]

SCORE_BINS = 1000
_CENTERS = (np.arange(SCORE_BINS) + 0.5) / SCORE_BINS


def score_of(proba: np.ndarray) -> np.ndarray:
    """The score the window keeps per row: P(class 1) for two classes, else the top probability."""
    p = np.asarray(proba, dtype=np.float64)
    return p[:, 1] if p.shape[1] == 2 else p.max(axis=1)


def score_histogram(scores: np.ndarray) -> np.ndarray:
    """Counts of ``scores`` (in [0, 1]) in :data:`SCORE_BINS` equal-width bins."""
    s = np.asarray(scores, dtype=np.float64)
    s = s[np.isfinite(s)]
    index = np.clip((s * SCORE_BINS).astype(np.int64), 0, SCORE_BINS - 1)
    return np.bincount(index, minlength=SCORE_BINS).astype(np.int64)


def fit_reference_estimators(proba: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """CBPE, ATC and BCTS (when every class occurs) fitted on validation probabilities and class indices, as JSON."""
    p = np.asarray(proba, dtype=np.float64)
    k = p.shape[1]
    out: dict[str, Any] = {
        "n_classes": k,
        "cbpe": fit_cbpe(p, truth).to_dict(),
        "atc": fit_atc(p, truth, "negative_entropy" if k == 2 else "max_confidence").to_dict(),
    }
    if len(np.unique(truth)) == k:
        out["bcts"] = fit_bcts(logits_from_probabilities(p), truth).to_dict()
        out["validation_prior"] = (np.bincount(truth, minlength=k) / len(truth)).tolist()
    return out


def mlls_from_rows(fits: dict[str, Any], proba: np.ndarray) -> np.ndarray | None:
    """The window's prior by MLLS from probability rows (a multiclass model's sampled rows); None without BCTS."""
    if "bcts" not in fits or not len(proba):
        return None
    calibrated = BCTSCalibration.from_dict(fits["bcts"]).probabilities(logits_from_probabilities(proba))
    return mlls_prior(calibrated, fits["validation_prior"]).prior


def _rows(k: int) -> np.ndarray:
    """One probability row per bin middle (binary exact; multiclass: the top probability, the rest spread)."""
    if k == 2:
        return np.c_[1.0 - _CENTERS, _CENTERS]
    rest = np.repeat(((1.0 - _CENTERS) / (k - 1))[:, None], k - 1, axis=1)
    return np.c_[_CENTERS, rest]


def _interval(value: float, low: float, high: float, confidence: float) -> dict[str, float | None]:
    """A metric in [0, 1] with its interval; None where undefined (e.g. AUC when every draw has one class)."""

    def fit(x: float, bound: float, pick: Any) -> float | None:
        return float(pick(bound, x)) if math.isfinite(x) else None

    return {
        "value": float(value) if math.isfinite(value) else None,
        "ci_low": fit(low, 0.0, max),
        "ci_high": fit(high, 1.0, min),
        "confidence": confidence,
    }


def estimate_window(
    fits: dict[str, Any], counts: np.ndarray, confidence: float = 0.95, n_draws: int = 400, seed: int = 0
) -> dict[str, Any] | None:
    """The report's ``performance.estimated``: CBPE (headline), ATC and, for binary, the MLLS prior; None when the
    window has no scores."""
    n_b = np.asarray(counts, dtype=np.float64)
    n = float(n_b.sum())
    if n == 0 or not fits:
        return None
    k = int(fits["n_classes"])
    cbpe = CBPEFit.from_dict(fits["cbpe"])
    z = normal_quantile(0.5 + confidence / 2.0)
    out: dict[str, Any] = {"n": int(n), "reference_accuracy": cbpe.reference_accuracy, "method": "cbpe"}
    if k == 2:
        q = raw_q = np.clip(cbpe.calibrator(_CENTERS), 0.0, 1.0)  # calibrated P(y = 1) per bin
        if "bcts" in fits:
            prior = _mlls(fits, n_b)
            out["mlls_prior"] = prior.tolist()
            w = prior / np.asarray(fits["validation_prior"])
            q = w[1] * q / np.maximum(w[1] * q + w[0] * (1.0 - q), 1e-300)
            out["method"] = "cbpe+mlls"
        predicted = _CENTERS > 0.5
        c = np.where(predicted, q, 1.0 - q)
    else:
        c = np.clip(cbpe.calibrator(_CENTERS), 0.0, 1.0)
    accuracy = float(n_b @ c / n)
    half = z * math.sqrt(float(n_b @ (c * (1.0 - c)))) / n
    out["accuracy"] = _interval(accuracy, accuracy - half, accuracy + half, confidence)
    if out["method"] != "cbpe":  # the plain estimate too, to see what the prior correction changed
        plain = np.where(predicted, raw_q, 1.0 - raw_q)
        value, spread = float(n_b @ plain / n), z * math.sqrt(float(n_b @ (plain * (1.0 - plain)))) / n
        out["cbpe_accuracy"] = _interval(value, value - spread, value + spread, confidence)
    if k == 2:
        out.update(_binary_metrics(q, predicted, n_b, confidence, n_draws, seed))
    atc = ATCFit.from_dict(fits["atc"])
    above = int(n_b[confidence_score(_rows(k), atc.score) > atc.threshold].sum())
    low, high = wilson_interval(above, int(n), alpha=1.0 - confidence)
    out["atc"] = _interval(above / n, low, high, confidence)
    return out


def _mlls(fits: dict[str, Any], n_b: np.ndarray) -> np.ndarray:
    calibrated = BCTSCalibration.from_dict(fits["bcts"]).probabilities(logits_from_probabilities(_rows(2)))
    seen = n_b > 0
    return mlls_prior(calibrated[seen], fits["validation_prior"], weights=n_b[seen]).prior


def _binary_metrics(
    q: np.ndarray, predicted: np.ndarray, n_b: np.ndarray, confidence: float, n_draws: int, seed: int
) -> dict[str, Any]:
    pos, neg = n_b * q, n_b * (1.0 - q)
    tp, fp, fn = float(pos[predicted].sum()), float(neg[predicted].sum()), float(pos[~predicted].sum())
    f1 = 2.0 * tp / (2.0 * tp + fp + fn) if tp + fp + fn > 0 else math.nan
    below = np.cumsum(neg) - neg  # negative mass in lower bins (bins are in score order)
    pairs = float(pos.sum() * neg.sum() - (n_b * q * (1.0 - q)).sum())
    ordered = float((pos * below).sum() + 0.5 * (pos * neg - n_b * q * (1.0 - q)).sum())
    auc = ordered / pairs if pairs > 0 else math.nan
    # Intervals: label draws y_b ~ Binomial(n_b, q_b) per bin; rows of one bin share a (mid) rank.
    rng = np.random.default_rng(seed)
    draws = rng.binomial(n_b.astype(np.int64), q, size=(n_draws, len(q))).astype(np.float64)
    midrank = np.cumsum(n_b) - (n_b - 1.0) / 2.0
    n1 = draws.sum(axis=1)
    n0 = n_b.sum() - n1
    with np.errstate(invalid="ignore", divide="ignore"):
        f1s = 2.0 * draws[:, predicted].sum(axis=1) / np.maximum(n1 + n_b[predicted].sum(), 1.0)
        aucs = (draws @ midrank - n1 * (n1 + 1.0) / 2.0) / (n1 * n0)
    tail = (1.0 - confidence) / 2.0 * 100.0
    out = {}
    for name, value, sample in (("f1", f1, f1s), ("roc_auc", auc, aucs)):
        finite = sample[np.isfinite(sample)]
        low, high = np.percentile(finite, [tail, 100.0 - tail]) if finite.size else (math.nan, math.nan)
        out[name] = _interval(float(value), float(low), float(high), confidence)
    return out
