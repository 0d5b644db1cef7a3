"""Population Stability Index on coarse bins: deciles of the reference (numeric) or categories (categorical).

``PSI = sum_k (q_k - p_k) * ln(q_k / p_k)`` with reference shares ``p`` and current shares ``q``, each floored at
``EPS = 1e-4`` so an empty bin costs a large but finite amount. Ten reference-quantile bins is the industry
convention; the fine profile bins are not used because PSI's noise floor grows with the bin count
(about ``(B - 1) * (1/n_ref + 1/n_cur)``), so 1000 bins would alarm on small windows.

Default threshold 0.1 ("moderate shift" in the usual 0.1 / 0.25 reading): for normal data a mean shift of about
0.33 standard deviations. PSI has no p-value, so a window needs enough rows (the kernel's ``min_rows``).

>>> import numpy as np
>>> from driftline.monitors.summaries import NumericSummary
>>> rng = np.random.default_rng(0)
>>> ref = NumericSummary.from_values(rng.normal(size=5000), np.quantile(rng.normal(size=5000), np.arange(1, 100) / 100))
>>> psi(ref, NumericSummary.from_values(rng.normal(1.0, 1, 5000), ref.edges), 0.1).drifted
True
"""

from __future__ import annotations

import numpy as np

from driftline.monitors.stattests.base import Summary, TestResult, coarse_counts, verdict

__all__ = ["DEFAULT_THRESHOLD", "EPS", "N_BINS", "psi"]

DEFAULT_THRESHOLD = 0.1
N_BINS = 10
EPS = 1e-4


def psi_from_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    p = np.maximum(ref_counts / ref_counts.sum(), EPS)
    q = np.maximum(cur_counts / cur_counts.sum(), EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def psi(reference: Summary, current: Summary, threshold: float, *, alpha: float = 0.05) -> TestResult:
    """PSI of ``current`` against ``reference`` on ten reference-quantile bins (or the categories)."""
    ref, cur = coarse_counts(reference, current, N_BINS)
    stat = psi_from_counts(ref, cur)
    return TestResult(stat, None, threshold, verdict(stat, threshold, None, alpha))
