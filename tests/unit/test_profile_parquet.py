"""A Parquet reference profiled a group of columns at a time equals the profile of the whole table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from driftline.datasets.schema import DatasetSchema, FeatureKind, FeatureSpec
from driftline.monitors.profile import profile_from_table
from driftline.monitors.profile_parquet import profile_from_dataset


def test_grouped_profile_equals_the_whole_table_profile(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 5_000
    columns = {f"x{i}": rng.normal(i, 1 + i, n) for i in range(7)}
    columns["city"] = rng.choice(["a", "b", "c"], n)
    columns["y"] = rng.integers(0, 2, n)
    table = pa.table(columns)
    pq.write_table(table, tmp_path / "ref.parquet")
    specs = [FeatureSpec(f"x{i}", FeatureKind.NUMERIC) for i in range(7)]
    specs.insert(3, FeatureSpec("city", FeatureKind.CATEGORICAL))
    schema = DatasetSchema(tuple(specs), "y", (0, 1))
    whole = profile_from_table(table, schema, n_bins=50, sample_rows=300)
    grouped = profile_from_dataset(
        pads.dataset(tmp_path / "ref.parquet"), schema, n_bins=50, sample_rows=300, group_bytes=2 * 8 * n
    )
    assert grouped.to_dict() == whole.to_dict()
