"""Welch's unequal-variance t test for ``mean_b - mean_a``, from samples or from summary statistics.

The summary form is what the rollout uses: latency sums and sums of squares are additive across router
replicas and ticks, so mean and variance come out exactly without keeping samples. The t distribution is
scipy's; tests check the numbers against ``scipy.stats.ttest_ind(..., equal_var=False)``.

>>> r = welch([1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 5.0, 6.0])
>>> round(r.effect, 3), r.significant
(1.5, False)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import stdtr, stdtrit  # Student t CDF and its inverse, as scipy.stats.t (0.7 s less import)

from driftline.core.errors import DataError
from driftline.core.stats.result import StatResult, check_alpha

__all__ = ["welch", "welch_from_stats"]


def welch_from_stats(
    mean_a: float, var_a: float, n_a: int, mean_b: float, var_b: float, n_b: int, alpha: float = 0.05
) -> StatResult:
    """Welch t test from means, unbiased (ddof=1) variances and sizes; two-sided, CI for the difference."""
    if n_a < 2 or n_b < 2:
        raise DataError(f"Welch's test needs >= 2 observations per arm, got n_a={n_a}, n_b={n_b}.", "Wait for data.")
    if var_a < 0 or var_b < 0 or not all(map(math.isfinite, (mean_a, var_a, mean_b, var_b))):
        raise DataError("Welch's test got a negative or non-finite mean/variance.", "Check the summary statistics.")
    alpha = check_alpha(alpha)
    se_a2, se_b2 = var_a / n_a, var_b / n_b
    se = math.sqrt(se_a2 + se_b2)
    effect = mean_b - mean_a
    if se == 0:
        # Both arms constant: the difference is known exactly.
        return StatResult(
            "welch_t",
            0.0 if effect == 0 else math.copysign(math.inf, effect),
            1.0 if effect == 0 else 0.0,
            effect,
            effect,
            effect,
            alpha,
            _rel(effect, mean_a),
            n_a,
            n_b,
        )
    df = (se_a2 + se_b2) ** 2 / (se_a2**2 / (n_a - 1) + se_b2**2 / (n_b - 1))
    t = effect / se
    p = float(min(1.0, 2.0 * stdtr(df, -abs(t))))
    half = float(stdtrit(df, 1.0 - alpha / 2.0)) * se
    return StatResult("welch_t", t, p, effect, effect - half, effect + half, alpha, _rel(effect, mean_a), n_a, n_b)


def welch(a: Sequence[float], b: Sequence[float], alpha: float = 0.05) -> StatResult:
    """Welch t test on two samples (``a`` champion, ``b`` candidate)."""
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not (np.isfinite(xa).all() and np.isfinite(xb).all()):
        raise DataError("Welch's test got NaN or infinite values.", "Drop or impute them first.")
    n_a, n_b = xa.size, xb.size
    if n_a < 2 or n_b < 2:
        raise DataError(f"Welch's test needs >= 2 observations per arm, got n_a={n_a}, n_b={n_b}.", "Wait for data.")
    return welch_from_stats(
        float(xa.mean()), float(xa.var(ddof=1)), n_a, float(xb.mean()), float(xb.var(ddof=1)), n_b, alpha
    )


def _rel(effect: float, base: float) -> float:
    return effect / base if base != 0 else math.nan
