"""Mann-Whitney U test (normal approximation, tie-corrected, continuity-corrected), on samples or binned counts.

The binned form reads the rollout's latency histograms directly: every bin is one tie group, so the result
equals the sample test on values rounded to their bin. ``effect`` is the probability of superiority
``P(B > A) + P(B == A) / 2`` minus 0.5 (0 under H0, positive when the candidate tends to be larger); no CI is
given (``ci_low``/``ci_high`` are NaN). Numbers match ``scipy.stats.mannwhitneyu(b, a, method="asymptotic")``.

>>> r = mann_whitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
>>> r.statistic, round(r.effect, 2)
(25.0, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from driftline.core.errors import DataError
from driftline.core.stats.result import StatResult, check_alpha, normal_two_sided_p

__all__ = ["mann_whitney", "mann_whitney_from_counts"]


def mann_whitney_from_counts(counts_a: Sequence[int], counts_b: Sequence[int], alpha: float = 0.05) -> StatResult:
    """U of ``b`` from per-bin counts over the same ordered bins (``counts_a[i]``, ``counts_b[i]`` share bin i)."""
    ca, cb = np.asarray(counts_a, dtype=float), np.asarray(counts_b, dtype=float)
    if ca.shape != cb.shape or ca.ndim != 1:
        raise DataError(f"Bin counts must be two 1-d arrays of equal length, got {ca.shape} and {cb.shape}.", "")
    if (ca < 0).any() or (cb < 0).any():
        raise DataError("Bin counts must be non-negative.", "Check the histogram.")
    alpha = check_alpha(alpha)
    n_a, n_b = float(ca.sum()), float(cb.sum())
    if n_a < 1 or n_b < 1:
        raise DataError(f"Mann-Whitney needs >= 1 observation per arm, got n_a={n_a:g}, n_b={n_b:g}.", "Wait.")
    below_a = np.cumsum(ca) - ca  # champion observations strictly below each bin
    u_b = float((cb * (below_a + 0.5 * ca)).sum())
    n = n_a + n_b
    ties = ca + cb
    mean_u = n_a * n_b / 2.0
    var_u = n_a * n_b / 12.0 * ((n + 1.0) - float((ties**3 - ties).sum()) / (n * (n - 1.0)))
    if var_u <= 0:
        z, p = 0.0, 1.0  # every observation tied: no evidence either way
    else:
        # Continuity correction towards the mean, as scipy does.
        z = math.copysign(max(abs(u_b - mean_u) - 0.5, 0.0), u_b - mean_u) / math.sqrt(var_u)
        p = normal_two_sided_p(z)
    return StatResult(
        test="mann_whitney_u",
        statistic=u_b,
        p_value=p,
        effect=u_b / (n_a * n_b) - 0.5,
        ci_low=math.nan,
        ci_high=math.nan,
        alpha=alpha,
        n_a=int(n_a),
        n_b=int(n_b),
    )


def mann_whitney(a: Sequence[float], b: Sequence[float], alpha: float = 0.05) -> StatResult:
    """Mann-Whitney U on samples (``a`` champion, ``b`` candidate); ties are grouped exactly."""
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not (np.isfinite(xa).all() and np.isfinite(xb).all()):
        raise DataError("Mann-Whitney got NaN or infinite values.", "Drop or impute them first.")
    values, codes = np.unique(np.concatenate([xa, xb]), return_inverse=True)
    counts_a = np.bincount(codes[: xa.size], minlength=values.size)
    counts_b = np.bincount(codes[xa.size :], minlength=values.size)
    return mann_whitney_from_counts(counts_a.tolist(), counts_b.tolist(), alpha)
