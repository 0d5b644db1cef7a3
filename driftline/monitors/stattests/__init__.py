"""Batch drift tests over summaries: ``psi``, ``ks``, ``wasserstein``, ``jensen_shannon``, ``chi2``.

>>> from driftline.monitors.stattests import STAT_TESTS
>>> STAT_TESTS["chi2"].has_p_value
True
"""

from __future__ import annotations

from driftline.monitors.stattests.base import TestResult, coarse_counts, coarse_edge_index
from driftline.monitors.stattests.chi2 import chi2
from driftline.monitors.stattests.jensen_shannon import jensen_shannon
from driftline.monitors.stattests.ks import ks
from driftline.monitors.stattests.psi import psi
from driftline.monitors.stattests.registry import STAT_TESTS, StatTestSpec, get_stat_test
from driftline.monitors.stattests.wasserstein import wasserstein

__all__ = [
    "STAT_TESTS",
    "StatTestSpec",
    "TestResult",
    "chi2",
    "coarse_counts",
    "coarse_edge_index",
    "get_stat_test",
    "jensen_shannon",
    "ks",
    "psi",
    "wasserstein",
]
