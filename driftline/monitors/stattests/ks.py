"""Two-sample Kolmogorov-Smirnov from histograms on the reference's fine quantile edges.

``D`` is the largest CDF gap at the bin edges, where both empirical CDFs are known exactly. Inside a bin the CDFs
are unknown, so the exact statistic lies in ``[D, D + max_error]`` with ``max_error`` computed per call from the
bins (at most the largest share of either sample in one bin: about ``1 / n_bins`` = 0.001 with the default
profile, more only where the current window piles into a few bins, which happens when D is already large).
The p-value is Smirnov's asymptotic one, as ``scipy.stats.ks_2samp(method="asymp")``:
``kstwo.sf(D, round(n*m/(n+m)))``.

Verdict: drifted when ``D >= threshold`` *and* ``p < alpha``. A p-value alone is useless at scale: with a
million rows a 0.01-sigma shift (D ~ 0.004) has p < 1e-6. The default ``D >= 0.1`` is a CDF gap of ten
percentage points, about a 0.25-sigma mean shift or a 30% change of scale for normal data; the p-value then only
protects small windows (with 100 rows, D = 0.1 is noise).

>>> import numpy as np
>>> from driftline.monitors.summaries import NumericSummary
>>> edges = np.linspace(-3, 3, 999)
>>> rng = np.random.default_rng(1)
>>> ref, cur = (NumericSummary.from_values(rng.normal(m, 1, 20000), edges) for m in (0.0, 0.5))
>>> ks(ref, cur, 0.1).drifted
True
"""

from __future__ import annotations

import numpy as np
from scipy.stats import kstwo

from driftline.monitors.stattests.base import TestResult, verdict
from driftline.monitors.summaries import NumericSummary

__all__ = ["DEFAULT_THRESHOLD", "ks", "ks_from_counts"]

DEFAULT_THRESHOLD = 0.1


def ks_from_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """(D at the edges, upper bound on the exact D) from counts on shared right-closed bins."""
    f = np.concatenate([[0.0], np.cumsum(ref_counts) / ref_counts.sum()])
    g = np.concatenate([[0.0], np.cumsum(cur_counts) / cur_counts.sum()])
    d = float(np.abs(f - g).max())
    # inside bin k the CDFs move within [f_k, f_k+1] and [g_k, g_k+1]: the gap is at most this
    upper = float(np.maximum(np.abs(f[1:] - g[:-1]), np.abs(g[1:] - f[:-1])).max())
    return d, max(upper, d)


def ks(reference: NumericSummary, current: NumericSummary, threshold: float, *, alpha: float = 0.05) -> TestResult:
    """KS statistic D and asymptotic p-value of ``current`` vs ``reference`` (same edges)."""
    d, upper = ks_from_counts(reference.counts, current.counts)
    n, m = sorted([float(reference.n), float(current.n)], reverse=True)
    p = float(np.clip(kstwo.sf(d, np.round(n * m / (n + m))), 0.0, 1.0))
    return TestResult(d, p, threshold, verdict(d, threshold, p, alpha), alpha=alpha, max_error=upper - d)
