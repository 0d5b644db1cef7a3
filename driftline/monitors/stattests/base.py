"""The batch drift test plug-in shape and the binning helpers the tests share.

A test is a function ``(reference, current, threshold, *, alpha=0.05) -> TestResult`` over two summaries of the
same kind (:class:`NumericSummary` or :class:`CategoricalSummary`). ``threshold`` always applies to an *effect
size* (the statistic itself unless ``effect_size`` is set), so a huge window cannot turn a negligible shift into
an alarm; where a p-value exists it must also be below ``alpha`` (it guards small windows against noise).

>>> import numpy as np
>>> from driftline.monitors.summaries import NumericSummary
>>> ref = NumericSummary.from_values(np.arange(100.0), np.arange(99.0) + 0.5)
>>> [len(c) for c in coarse_counts(ref, ref, 10)]
[10, 10]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol, TypeAlias

import numpy as np

from driftline.monitors.summaries import CategoricalSummary, NumericSummary

__all__ = ["OTHER", "StatTest", "Summary", "TestResult", "coarse_counts", "coarse_edge_index", "verdict"]

Summary: TypeAlias = NumericSummary | CategoricalSummary
OTHER = "__other__"  # bucket for categories the reference never saw


@dataclass(frozen=True)
class TestResult:
    """One test's outcome. ``threshold`` is the one used; ``max_error`` bounds the histogram approximation."""

    __test__ = False  # not a pytest class

    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    effect_size: float | None = None
    alpha: float | None = None
    max_error: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None or k == "p_value"}


class StatTest(Protocol):
    def __call__(self, reference: Any, current: Any, threshold: float, *, alpha: float = ...) -> TestResult: ...


StatTestFn: TypeAlias = Callable[..., TestResult]


def verdict(effect: float, threshold: float, p_value: float | None, alpha: float) -> bool:
    """Drifted when the effect reaches the threshold and (if there is one) the p-value is below alpha."""
    return bool(effect >= threshold and (p_value is None or p_value < alpha))


def coarse_edge_index(reference: NumericSummary, n_groups: int) -> np.ndarray:
    """Indices of the fine edges closest to the reference's ``k / n_groups`` quantiles (ties merged).

    Fine edges sit at quantiles ``i / n_bins``, so for ``n_groups`` dividing ``n_bins`` these are the exact decile
    (or other) edges; with ties the nearest available cumulative share is used.
    """
    if len(reference.edges) == 0 or reference.n == 0:
        return np.empty(0, dtype=np.int64)
    cum = np.cumsum(reference.counts)[:-1] / reference.n
    targets = np.arange(1, n_groups) / n_groups
    idx = np.abs(cum[None, :] - targets[:, None]).argmin(axis=1)
    return np.unique(idx)


def coarse_counts(reference: Summary, current: Summary, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference and current counts on shared coarse bins: reference-quantile groups, or categories + OTHER."""
    if isinstance(reference, NumericSummary) and isinstance(current, NumericSummary):
        idx = coarse_edge_index(reference, n_groups)
        starts = np.concatenate([[0], idx + 1])
        return np.add.reduceat(reference.counts, starts), np.add.reduceat(current.counts, starts)
    if isinstance(reference, CategoricalSummary) and isinstance(current, CategoricalSummary):
        keys = sorted(reference.counts)
        ref = np.array([reference.counts[k] for k in keys] + [0], dtype=np.float64)
        cur = np.array([current.counts.get(k, 0) for k in keys] + [0], dtype=np.float64)
        cur[-1] = current.n - cur[:-1].sum()
        return ref, cur
    raise TypeError(f"summaries of different kinds: {type(reference).__name__} vs {type(current).__name__}")
