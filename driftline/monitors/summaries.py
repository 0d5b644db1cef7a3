"""Mergeable summaries of a column or a window: what engines build and what the drift tests compare.

A summary is a sufficient statistic for every test we run: histogram counts on the *reference* bin edges, the
sum of the values in each bin (so Wasserstein is exact per bin, see ``stattests/wasserstein.py``), moments and
non-finite counts. Summaries of disjoint blocks add up (``merge``), which is what lets a Ray Data job build one
per block and sum them, and get the numbers the in-memory engine gets on the whole window.

Bins are right-closed: with interior edges ``e_0 < ... < e_{B-2}`` bin 0 is ``(-inf, e_0]``, bin k is
``(e_{k-1}, e_k]`` and the last bin is ``(e_{B-2}, inf)``; ``np.searchsorted(edges, x, side="left")`` is the bin.

>>> import numpy as np
>>> edges = np.array([0.0, 1.0])
>>> a = NumericSummary.from_values(np.array([-1.0, 0.5, 2.0]), edges)
>>> b = NumericSummary.from_values(np.array([0.7, np.nan]), edges)
>>> a.merge(b).counts.tolist(), a.merge(b).n_nan
([1, 2, 1], 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CategoricalSummary", "LabelSummary", "NumericSummary", "ResidualSummary", "WindowSummary", "bin_index"]

_MAX_EDGES_PER_CELL = 4  # beyond this the lookup table saves nothing over a binary search


def _floats(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def bin_index(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``np.searchsorted(edges, x, side="left")`` for finite ``x``, about 3x faster on fine quantile edges.

    A uniform grid of cells over the edges' range maps each value to the first edge of its cell; a few vectorised
    steps then move past the edges of that cell that are below the value. Exact, not approximate: the cell map
    ``floor((v - lo) * scale)`` is monotone in floating point, so an edge in an earlier cell is below every value
    of a later cell and an edge in a later cell above it. Falls back to ``searchsorted`` when edges crowd a cell.
    """
    m = len(edges)
    if m < 16 or not (edges[-1] > edges[0]):
        return np.searchsorted(edges, x, side="left")
    n_cells = 16 * m
    lo, scale = float(edges[0]), n_cells / float(edges[-1] - edges[0])

    def cell(v: np.ndarray) -> np.ndarray:
        return np.clip((v - lo) * scale, 0, n_cells - 1).astype(np.int32)

    per_cell = np.bincount(cell(edges), minlength=n_cells)
    steps = int(per_cell.max())
    if steps > _MAX_EDGES_PER_CELL:
        return np.searchsorted(edges, x, side="left")
    first = np.concatenate([[0], np.cumsum(per_cell)[:-1]]).astype(np.int32)  # edges in earlier cells
    idx = first[cell(x)]
    padded = np.append(edges, np.inf)
    for _ in range(steps):
        idx += padded[idx] < x
    return idx


# Past this a value's square overflows float64 (1e150**2 = 1e300 < 1.8e308 keeps sums of squares finite), so it is
# counted with inf and left out of every test, like inf itself.
MAX_MAGNITUDE = 1e150


@dataclass
class NumericSummary:
    """Histogram on fixed edges plus moments of the finite values; ``shift`` centres the moments for stability."""

    edges: np.ndarray
    counts: np.ndarray
    sums: np.ndarray
    n: int = 0
    shift: float = 0.0
    sum_dev: float = 0.0  # sum of (x - shift)
    sum_dev2: float = 0.0  # sum of (x - shift)**2
    min: float = float("inf")
    max: float = float("-inf")
    n_nan: int = 0
    n_inf: int = 0

    @classmethod
    def empty(cls, edges: np.ndarray, shift: float = 0.0) -> NumericSummary:
        bins = len(edges) + 1
        return cls(_floats(edges), np.zeros(bins, np.int64), np.zeros(bins, np.float64), shift=float(shift))

    @classmethod
    def from_values(cls, values: np.ndarray, edges: np.ndarray, shift: float = 0.0) -> NumericSummary:
        """Summarise one block of values (NaN/inf counted, not binned; so are magnitudes past ``MAX_MAGNITUDE``)."""
        x = np.asarray(values, dtype=np.float64)
        out = cls.empty(edges, shift)
        with np.errstate(invalid="ignore"):
            finite = np.abs(x) <= MAX_MAGNITUDE  # False for NaN and inf too
        if not finite.all():
            out.n_nan = int(np.isnan(x).sum())
            out.n_inf = int(x.size - finite.sum() - out.n_nan)
            x = x[finite]
        if x.size == 0:
            return out
        idx = bin_index(x, out.edges)
        bins = len(out.counts)
        out.counts = np.bincount(idx, minlength=bins).astype(np.int64)
        out.sums = np.bincount(idx, weights=x, minlength=bins)
        dev = x - out.shift
        out.n, out.sum_dev, out.sum_dev2 = int(x.size), float(dev.sum()), float(dev @ dev)
        out.min, out.max = float(x.min()), float(x.max())
        return out

    def merge(self, other: NumericSummary) -> NumericSummary:
        if len(self.edges) != len(other.edges) or self.shift != other.shift:
            raise ValueError("cannot merge numeric summaries built on different edges or shifts")
        return NumericSummary(
            self.edges,
            self.counts + other.counts,
            self.sums + other.sums,
            self.n + other.n,
            self.shift,
            self.sum_dev + other.sum_dev,
            self.sum_dev2 + other.sum_dev2,
            min(self.min, other.min),
            max(self.max, other.max),
            self.n_nan + other.n_nan,
            self.n_inf + other.n_inf,
        )

    @property
    def mean(self) -> float:
        return self.shift + self.sum_dev / self.n if self.n else float("nan")

    @property
    def std(self) -> float:
        """Population standard deviation of the finite values."""
        if not self.n:
            return float("nan")
        m = self.sum_dev / self.n
        return float(np.sqrt(max(self.sum_dev2 / self.n - m * m, 0.0)))

    def to_dict(self) -> dict[str, Any]:
        finite = self.n > 0
        return {
            "edges": self.edges.tolist(),
            "counts": self.counts.tolist(),
            "sums": self.sums.tolist(),
            "n": self.n,
            "shift": self.shift,
            "sum_dev": self.sum_dev,
            "sum_dev2": self.sum_dev2,
            "min": self.min if finite else None,
            "max": self.max if finite else None,
            "n_nan": self.n_nan,
            "n_inf": self.n_inf,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NumericSummary:
        return cls(
            _floats(d["edges"]),
            np.asarray(d["counts"], dtype=np.int64),
            _floats(d["sums"]),
            int(d["n"]),
            float(d["shift"]),
            float(d["sum_dev"]),
            float(d["sum_dev2"]),
            float("inf") if d["min"] is None else float(d["min"]),
            float("-inf") if d["max"] is None else float(d["max"]),
            int(d["n_nan"]),
            int(d["n_inf"]),
        )


@dataclass
class CategoricalSummary:
    """Counts per category value (as strings, unseen values included) and the number of missing values."""

    counts: dict[str, int] = field(default_factory=dict)
    n_missing: int = 0

    @property
    def n(self) -> int:
        return int(sum(self.counts.values()))

    def merge(self, other: CategoricalSummary) -> CategoricalSummary:
        counts = dict(self.counts)
        for key, value in other.counts.items():
            counts[key] = counts.get(key, 0) + value
        return CategoricalSummary(counts, self.n_missing + other.n_missing)

    def to_dict(self) -> dict[str, Any]:
        return {"counts": dict(sorted(self.counts.items())), "n_missing": self.n_missing}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CategoricalSummary:
        return cls({str(k): int(v) for k, v in d["counts"].items()}, int(d.get("n_missing", 0)))


@dataclass
class LabelSummary:
    """Per class index: label counts, prediction counts and the joint (true x predicted) counts."""

    n_classes: int
    label_counts: np.ndarray
    prediction_counts: np.ndarray
    joint: np.ndarray  # rows = true class, cols = predicted class, rows with both known

    @classmethod
    def empty(cls, n_classes: int) -> LabelSummary:
        k = n_classes
        return cls(k, np.zeros(k, np.int64), np.zeros(k, np.int64), np.zeros((k, k), np.int64))

    def merge(self, other: LabelSummary) -> LabelSummary:
        return LabelSummary(
            self.n_classes,
            self.label_counts + other.label_counts,
            self.prediction_counts + other.prediction_counts,
            self.joint + other.joint,
        )


@dataclass
class ResidualSummary:
    """Regression: sums of absolute and squared errors (and their squares) over rows with a label and a prediction,
    enough for MAE and RMSE with confidence intervals; additive across blocks.

    >>> r = ResidualSummary.from_errors(np.array([1.0, -1.0, 2.0]))
    >>> r.n, r.mae, round(r.rmse, 4)
    (3, 1.3333333333333333, 1.4142)
    """

    n: int = 0
    abs_sum: float = 0.0
    abs_sq_sum: float = 0.0  # sum of |e|**2 = sum of e**2
    sq_sq_sum: float = 0.0  # sum of e**4 (the variance of squared errors, for the RMSE interval)

    @classmethod
    def from_errors(cls, errors: np.ndarray) -> ResidualSummary:
        e = np.asarray(errors, np.float64)
        e = e[np.isfinite(e)]
        sq = e * e
        return cls(int(e.size), float(np.abs(e).sum()), float(sq.sum()), float(sq @ sq))

    def merge(self, other: ResidualSummary) -> ResidualSummary:
        return ResidualSummary(
            self.n + other.n,
            self.abs_sum + other.abs_sum,
            self.abs_sq_sum + other.abs_sq_sum,
            self.sq_sq_sum + other.sq_sq_sum,
        )

    @property
    def mae(self) -> float:
        return self.abs_sum / self.n if self.n else float("nan")

    @property
    def mse(self) -> float:
        return self.abs_sq_sum / self.n if self.n else float("nan")

    @property
    def rmse(self) -> float:
        return float(np.sqrt(self.mse)) if self.n else float("nan")

    @property
    def abs_var(self) -> float:
        """Unbiased variance of the absolute errors."""
        if self.n < 2:
            return float("nan")
        return max(0.0, (self.abs_sq_sum - self.abs_sum**2 / self.n) / (self.n - 1))

    @property
    def sq_var(self) -> float:
        """Unbiased variance of the squared errors."""
        if self.n < 2:
            return float("nan")
        return max(0.0, (self.sq_sq_sum - self.abs_sq_sum**2 / self.n) / (self.n - 1))


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sum of two histograms, where an empty one (a block without scores) adds nothing."""
    if not a.size:
        return b
    return a if not b.size else a + b


@dataclass
class WindowSummary:
    """Everything the kernel needs about one window; ``has_labels``/``has_predictions`` say which columns existed."""

    rows: int
    numeric: dict[str, NumericSummary]
    categorical: dict[str, CategoricalSummary]
    labels: LabelSummary
    has_labels: bool = False
    has_predictions: bool = False
    ts_min: int | None = None  # microseconds since the epoch, UTC
    ts_max: int | None = None
    skipped_files: int = 0  # unreadable files left out of the window
    outputs: dict[str, NumericSummary] = field(default_factory=dict)  # regression: "label", "prediction"
    residuals: ResidualSummary = field(default_factory=ResidualSummary)  # regression: rows with label and prediction
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # classifier: score histogram
    sample: Any = None  # a joint_sample.RowSample of the window's feature rows, or None

    def merge(self, other: WindowSummary) -> WindowSummary:
        def _pick(a: int | None, b: int | None, fn: Any) -> int | None:
            return b if a is None else a if b is None else fn(a, b)

        return WindowSummary(
            self.rows + other.rows,
            {k: v.merge(other.numeric[k]) for k, v in self.numeric.items()},
            {k: v.merge(other.categorical[k]) for k, v in self.categorical.items()},
            self.labels.merge(other.labels),
            self.has_labels or other.has_labels,
            self.has_predictions or other.has_predictions,
            _pick(self.ts_min, other.ts_min, min),
            _pick(self.ts_max, other.ts_max, max),
            self.skipped_files + other.skipped_files,
            {k: v.merge(other.outputs[k]) for k, v in self.outputs.items()},
            self.residuals.merge(other.residuals),
            _add(self.scores, other.scores),
            other.sample
            if self.sample is None
            else self.sample
            if other.sample is None
            else self.sample.merge(other.sample),
        )
