"""Label shift by maximum likelihood (MLLS): the EM of Saerens et al. (2002) on BCTS-calibrated probabilities.

If only P(y) moved, a calibrated classifier's posteriors on the window are ``p_s(y|x) ∝ p_t(y|x) · π_s / π_t``, so the
window's prior ``π_t`` maximises the likelihood of the window's rows; EM finds it by alternating

    posterior_i ∝ p_s(y | x_i) · π_t / π_s,     π_t = mean_i posterior_i

Alexandari, Kundaje & Shrikumar (ICML 2020) show this beats BBSE once the probabilities are calibrated with
**bias-corrected temperature scaling** (BCTS): ``softmax(z / T + b)``, with ``T`` and the per-class bias ``b`` fitted
by minimising the validation log loss. At the optimum the mean calibrated probability equals the validation label
frequency, which is then the ``reference_prior`` EM starts from.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> def rows(n, prior):
...     y = (rng.random(n) < prior).astype(int)
...     x = rng.normal(2.0 * y - 1.0, 1.0)
...     return np.c_[-x, x], y  # logits; the true posterior at prior 0.5 is softmax(2 x, 0) = softmax(x, -x)
>>> z_val, y_val = rows(4000, 0.5)
>>> cal = fit_bcts(z_val, y_val)
>>> z_win, _ = rows(4000, 0.2)
>>> est = mlls_prior(cal.probabilities(z_win), np.bincount(y_val) / len(y_val))
>>> [round(float(v), 1) for v in est.prior], est.converged
([0.8, 0.2], True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax

from driftline.core.errors import DataError

__all__ = ["BCTSCalibration", "MLLSEstimate", "fit_bcts", "logits_from_probabilities", "mlls_prior"]


@dataclass(frozen=True)
class BCTSCalibration:
    """Calibrated probabilities are ``softmax(logits / temperature + bias)``; plain JSON through ``to_dict``."""

    temperature: float
    bias: tuple[float, ...]

    def probabilities(self, logits: Any) -> np.ndarray:
        z = _matrix(logits, "logits")
        if z.shape[1] != len(self.bias):
            raise DataError(f"BCTS was fitted on {len(self.bias)} classes, got logits for {z.shape[1]}.", "")
        return softmax(z / self.temperature + np.asarray(self.bias), axis=1)

    def to_dict(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "bias": list(self.bias)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BCTSCalibration:
        return cls(float(d["temperature"]), tuple(float(v) for v in d["bias"]))


@dataclass(frozen=True)
class MLLSEstimate:
    prior: np.ndarray  # estimated class prior of the window
    weights: np.ndarray  # prior / reference_prior: the class weights for reweight_probabilities
    n_iter: int
    converged: bool


def logits_from_probabilities(proba: Any) -> np.ndarray:
    """Log-probabilities, for a model that exposes only probabilities (softmax of them gives them back)."""
    return np.log(np.clip(_matrix(proba, "probabilities"), 1e-12, 1.0))


def fit_bcts(logits: Any, labels: Any) -> BCTSCalibration:
    """Fit temperature and per-class bias on validation logits (n_rows, K) and labels (class indices 0..K-1)."""
    z = _matrix(logits, "logits")
    y = np.asarray(labels)
    if y.shape != (z.shape[0],) or not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= z.shape[1]:
        raise DataError(
            f"BCTS needs one class index in [0, {z.shape[1] - 1}] per row of logits {z.shape}, got {y.shape}.",
            "Map class values to the columns of the logits first.",
        )
    onehot = np.eye(z.shape[1])[y]
    n = z.shape[0]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        log_t, b = theta[0], np.concatenate([[0.0], theta[1:]])  # b[0] = 0: softmax ignores a common shift
        t = np.exp(log_t)  # optimise log T so T stays positive
        u = z / t + b
        log_s = log_softmax(u, axis=1)
        residual = (np.exp(log_s) - onehot) / n
        grad_log_t = float((residual * (-z / t)).sum())
        return float(-(onehot * log_s).sum() / n), np.concatenate([[grad_log_t], residual.sum(axis=0)[1:]])

    result = minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B")
    return BCTSCalibration(float(np.exp(result.x[0])), (0.0, *(float(v) for v in result.x[1:])))


def mlls_prior(
    proba: Any, reference_prior: Any, tol: float = 1e-8, max_iter: int = 1000, weights: Any = None
) -> MLLSEstimate:
    """EM estimate of the window's prior from calibrated probabilities on it and the prior they were fitted under.
    ``weights``: rows per probability row (a histogram of scores stands for the window's rows)."""
    p = _matrix(proba, "probabilities")
    w = np.ones(p.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (p.shape[0],) or (w < 0).any() or w.sum() <= 0:
        raise DataError(f"weights must be {p.shape[0]} counts >= 0 with a positive sum.", "Pass one count per row.")
    source = np.asarray(reference_prior, dtype=np.float64)
    if source.shape != (p.shape[1],) or (source <= 0).any() or not np.isfinite(source).all():
        raise DataError(
            f"reference_prior must be {p.shape[1]} positive numbers (one per class), got {source.tolist()}.",
            "Pass the validation label frequencies the calibration was fitted on.",
        )
    source = source / source.sum()
    prior = source.copy()
    for n_iter in range(1, max_iter + 1):
        post = p * (prior / source)
        post /= np.maximum(post.sum(axis=1, keepdims=True), 1e-300)
        new = w @ post / w.sum()
        done = float(np.abs(new - prior).sum()) < tol
        prior = new
        if done:
            return MLLSEstimate(prior, prior / source, n_iter, True)
    return MLLSEstimate(prior, prior / source, max_iter, False)


def _matrix(values: Any, what: str) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] < 2 or a.shape[0] < 1 or not np.isfinite(a).all():
        raise DataError(
            f"Expected finite {what} of shape (n_rows, n_classes >= 2), got shape {a.shape}.",
            "Pass one row per prediction and one column per class (both columns for a binary model).",
        )
    return a
