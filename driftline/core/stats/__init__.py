"""Online statistics for rollout decisions: fixed-horizon tests, the sequential mSPRT and the (sequential) SRM guard.

Every function returns a :class:`StatResult` (statistic, p_value, effect = candidate - champion, CI,
``significant``); arm ``a`` is the champion and arm ``b`` the candidate.

>>> from driftline.core.stats import two_proportion
>>> two_proportion(80, 100, 90, 100).effect > 0
True
"""

from __future__ import annotations

from driftline.core.stats.mann_whitney import mann_whitney, mann_whitney_from_counts
from driftline.core.stats.msprt import msprt_log_likelihood_ratio, msprt_normal, msprt_two_proportion
from driftline.core.stats.result import StatResult
from driftline.core.stats.srm import srm
from driftline.core.stats.srm_sequential import srm_sequential
from driftline.core.stats.two_proportion import newcombe_interval, two_proportion, wilson_interval
from driftline.core.stats.welch import welch, welch_from_stats

__all__ = [
    "StatResult",
    "mann_whitney",
    "mann_whitney_from_counts",
    "msprt_log_likelihood_ratio",
    "msprt_normal",
    "msprt_two_proportion",
    "newcombe_interval",
    "srm",
    "srm_sequential",
    "two_proportion",
    "welch",
    "welch_from_stats",
    "wilson_interval",
]
