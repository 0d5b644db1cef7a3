"""Uniform row samples for the joint-drift test, small enough to keep in a profile and to merge across blocks.

The reference keeps a seeded sample of its feature rows (in the profile, as JSON columns). A window keeps a
*bottom-k* sample: every row draws a random priority and a block keeps its ``k`` lowest; merging two samples keeps
the ``k`` lowest of both, which is again a uniform sample of the union. So each Ray Data block samples itself in the
same pass that summarises it, and the driver merges the samples like the summaries. Priorities come from a
generator seeded by the block's content, so a report is reproducible; the two engines cut the window into
different blocks, so their samples (and the test's p-value) differ, not their distribution.

>>> import pyarrow as pa
>>> t = pa.table({"x": [float(i) for i in range(100)]})
>>> a, b = RowSample.of(t.slice(0, 60), ["x"], k=10), RowSample.of(t.slice(60), ["x"], k=10)
>>> merged = a.merge(b)
>>> merged.rows, len(set(merged.frame()["x"]))
(10, 10)
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["DEFAULT_SAMPLE_ROWS", "RowSample", "reference_sample", "sample_frame"]

DEFAULT_SAMPLE_ROWS = 2000
_PRIORITY = "__priority"


def _seed(table: pa.Table) -> int:
    """A seed from the block's size and first values: the same block always draws the same priorities."""
    head = table.slice(0, 32).to_pylist()
    return (table.num_rows * 1_000_003 + zlib.crc32(repr(head).encode())) % 2**32


@dataclass(frozen=True)
class RowSample:
    """At most ``k`` rows (feature columns plus their priorities) drawn uniformly from the rows seen so far."""

    table: pa.Table
    k: int

    @classmethod
    def of(cls, table: pa.Table, columns: list[str], k: int = DEFAULT_SAMPLE_ROWS) -> RowSample:
        rows = table.select(columns)
        priority = np.random.default_rng(_seed(rows)).random(rows.num_rows)
        keep = np.sort(np.argpartition(priority, k)[:k]) if rows.num_rows > k else np.arange(rows.num_rows)
        return cls(rows.take(pa.array(keep)).append_column(_PRIORITY, pa.array(priority[keep])), k)

    def merge(self, other: RowSample) -> RowSample:
        both = pa.concat_tables([self.table, other.table], promote_options="permissive")
        if both.num_rows <= self.k:
            return RowSample(both, self.k)
        order = pc.sort_indices(both, sort_keys=[(_PRIORITY, "ascending")])[: self.k]
        return RowSample(both.take(order), self.k)

    @property
    def rows(self) -> int:
        return int(self.table.num_rows)

    def frame(self) -> pd.DataFrame:
        return self.table.drop([_PRIORITY]).to_pandas()


def reference_sample(
    table: pa.Table, numeric: list[str], categorical: list[str], k: int = DEFAULT_SAMPLE_ROWS, seed: int = 0
) -> dict[str, list[Any]]:
    """A seeded uniform sample of the feature columns as JSON-safe lists: numbers as floats (gaps and non-finite
    values as null), categories as strings (as the prediction log holds them)."""
    n = table.num_rows
    picked = np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False)) if n > k else np.arange(n)
    rows = table.select([*numeric, *categorical]).take(pa.array(picked))
    out: dict[str, list[Any]] = {}
    for name in numeric:
        values = rows.column(name).cast(pa.float64()).to_pylist()
        out[name] = [v if v is not None and np.isfinite(v) else None for v in values]
    for name in categorical:
        out[name] = [None if v is None else str(v) for v in rows.column(name).to_pylist()]
    return out


def sample_frame(sample: dict[str, list[Any]]) -> pd.DataFrame:
    return pd.DataFrame(sample)
