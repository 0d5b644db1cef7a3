"""Chi-square goodness of fit of the window's category counts against the reference shares.

Expected counts are ``n_cur * (ref_count + 0.5) / (n_ref + 0.5 * K)`` over the reference categories plus one
bucket for categories the reference never saw (the 0.5 pseudo-count keeps that bucket's expectation non-zero);
the statistic and p-value equal ``scipy.stats.chisquare(observed, expected)`` with ``K`` categories, ``K - 1``
degrees of freedom. The reference shares are treated as known, which is fine when ``n_ref >> n_cur``.

Effect size and threshold: total variation distance between the two category distributions (the share of rows
that would have to change category), default 0.05. Cohen's w was rejected: it explodes when a category the
reference never saw appears a handful of times. Drifted when ``TV >= threshold`` and ``p < alpha``.

>>> from driftline.monitors.summaries import CategoricalSummary
>>> r = chi2(CategoricalSummary({"a": 500, "b": 500}), CategoricalSummary({"a": 700, "b": 300}), 0.05)
>>> r.drifted, round(r.effect_size, 2)
(True, 0.2)
"""

from __future__ import annotations

import numpy as np
from scipy.special import chdtrc  # chi2.sf(x, df) == chdtrc(df, x), without importing scipy.stats

from driftline.monitors.stattests.base import TestResult, coarse_counts, verdict
from driftline.monitors.summaries import CategoricalSummary

__all__ = ["DEFAULT_THRESHOLD", "PSEUDO_COUNT", "chi2", "expected_counts"]

DEFAULT_THRESHOLD = 0.05
PSEUDO_COUNT = 0.5


def expected_counts(ref_counts: np.ndarray, n_current: float) -> np.ndarray:
    smoothed = ref_counts + PSEUDO_COUNT
    return n_current * smoothed / smoothed.sum()


def chi2(
    reference: CategoricalSummary, current: CategoricalSummary, threshold: float, *, alpha: float = 0.05
) -> TestResult:
    """Chi-square statistic and p-value of the window's categories; TV distance as the effect size."""
    ref, cur = coarse_counts(reference, current, 0)
    if cur[-1] == 0 and ref[-1] == 0:
        ref, cur = ref[:-1], cur[:-1]  # no unseen categories: leave the empty bucket out of the degrees of freedom
    expected = expected_counts(ref, cur.sum())
    stat = float(((cur - expected) ** 2 / expected).sum())
    dof = max(len(cur) - 1, 1)
    p = float(chdtrc(dof, stat))
    tv = float(0.5 * np.abs(cur / cur.sum() - ref / ref.sum()).sum())
    return TestResult(stat, p, threshold, verdict(tv, threshold, p, alpha), effect_size=tv, alpha=alpha)
