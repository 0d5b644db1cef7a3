"""Jensen-Shannon *distance* (base 2, in [0, 1]) on the same coarse bins as PSI.

Symmetric and bounded, so it stays meaningful when a bin empties (no floor needed, unlike PSI). Default threshold
0.1: for normal data a 0.25 standard-deviation mean shift on ten decile bins; there is no p-value.

>>> import numpy as np
>>> from driftline.monitors.summaries import CategoricalSummary
>>> a, b = CategoricalSummary({"x": 50, "y": 50}), CategoricalSummary({"x": 90, "y": 10})
>>> round(jensen_shannon(a, b, 0.1).statistic, 3)
0.383
"""

from __future__ import annotations

import numpy as np
from scipy.special import xlogy

from driftline.monitors.stattests.base import Summary, TestResult, coarse_counts, verdict

__all__ = ["DEFAULT_THRESHOLD", "N_BINS", "jensen_shannon"]

DEFAULT_THRESHOLD = 0.1
N_BINS = 10


def js_distance(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    p = ref_counts / ref_counts.sum()
    q = cur_counts / cur_counts.sum()
    m = 0.5 * (p + q)
    div = 0.5 * (xlogy(p, p) - xlogy(p, m)).sum() + 0.5 * (xlogy(q, q) - xlogy(q, m)).sum()
    return float(np.sqrt(max(div, 0.0) / np.log(2.0)))


def jensen_shannon(reference: Summary, current: Summary, threshold: float, *, alpha: float = 0.05) -> TestResult:
    """JS distance between reference and current shares on ten reference-quantile bins (or the categories)."""
    ref, cur = coarse_counts(reference, current, N_BINS)
    stat = js_distance(ref, cur)
    return TestResult(stat, None, threshold, verdict(stat, threshold, None, alpha))
