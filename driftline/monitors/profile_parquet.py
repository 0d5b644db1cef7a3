"""A reference profile from a Parquet dataset, read a group of columns at a time.

Parquet is columnar, and every part of a profile but the joint sample is per column, so a wide reference (1M rows x
1,000 columns is 8 GB as float64) never has to be in memory at once: each group of columns (about
``group_bytes`` of values) is read, profiled and dropped. The joint sample picks the same seeded rows in every
group, so the merged sample is whole rows.

>>> import tempfile, numpy as np, pyarrow as pa, pyarrow.parquet as pq, pyarrow.dataset as pads
>>> from driftline.datasets.schema import DatasetSchema, FeatureKind, FeatureSpec
>>> path = tempfile.mktemp(suffix=".parquet")
>>> pq.write_table(pa.table({f"x{i}": np.arange(500.0) * i for i in range(3)}), path)
>>> schema = DatasetSchema(tuple(FeatureSpec(f"x{i}", FeatureKind.NUMERIC) for i in range(3)), "y", ())
>>> prof = profile_from_dataset(pads.dataset(path), schema, n_bins=10, group_bytes=4000)
>>> sorted(prof.numeric), len(prof.sample["x2"])
(['x0', 'x1', 'x2'], 500)
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pyarrow.dataset as pads

from driftline.datasets.schema import DatasetSchema
from driftline.monitors.joint_sample import DEFAULT_SAMPLE_ROWS
from driftline.monitors.profile import DEFAULT_N_BINS, ReferenceProfile, profile_from_table

__all__ = ["profile_from_dataset"]

GROUP_BYTES = 256 << 20


def profile_from_dataset(
    dataset: pads.Dataset,
    schema: DatasetSchema,
    *,
    confusion_matrix: np.ndarray | None = None,
    baseline: dict[str, float] | None = None,
    n_bins: int = DEFAULT_N_BINS,
    source: str = "",
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
    group_bytes: int = GROUP_BYTES,
) -> ReferenceProfile:
    """Same as :func:`profile_from_table` over ``dataset``; peak memory is one group of columns, not the table."""
    rows = dataset.count_rows()
    per_group = max(1, group_bytes // max(8 * rows, 1))
    features = schema.features
    label = [schema.label] if schema.label in dataset.schema.names else []
    kw: dict[str, Any] = {"n_bins": n_bins, "source": source, "sample_rows": sample_rows}
    first = features[:per_group]
    whole = profile_from_table(
        dataset.to_table(columns=[f.name for f in first] + label),
        replace(schema, features=first),
        confusion_matrix=confusion_matrix,
        baseline=baseline,
        **kw,
    )
    for start in range(per_group, len(features), per_group):
        group = features[start : start + per_group]
        part = profile_from_table(
            dataset.to_table(columns=[f.name for f in group]), replace(schema, features=group), **kw
        )
        whole.numeric.update(part.numeric)
        whole.categorical.update(part.categorical)
        whole.sample.update(part.sample)
    return replace(whole, schema=schema)
