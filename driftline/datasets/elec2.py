"""Loader for the Elec2 electricity stream (real concept drift), read from a path you choose, never downloaded.

>>> from driftline.datasets.elec2 import load_elec2
>>> frame = load_elec2()  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from driftline.core.config import ELEC2_PATH_ENV, DataConfig
from driftline.core.errors import DataError
from driftline.datasets.schema import DatasetSchema, FeatureKind, FeatureSpec

__all__ = ["ELEC2_SCHEMA", "ELEC2_SHA256", "load_elec2"]

ELEC2_FEATURES = ("period", "nswprice", "nswdemand", "vicprice", "vicdemand", "transfer")
ELEC2_SCHEMA = DatasetSchema(
    features=tuple(FeatureSpec(n, FeatureKind.NUMERIC) for n in ELEC2_FEATURES), label="class", classes=(0, 1)
)
ELEC2_SHA256 = "cdf901433885f29eca6911f70c0eeafb50d90596c879c30c5b99f5a2e8e734ff"
_WHERE = (
    "The public copy is the file elec.csv in the GitHub repository scikit-multiflow/streaming-datasets "
    f"(sha256 {ELEC2_SHA256}). Download it once and point driftline at it with data.elec2_path in the config "
    f"or the {ELEC2_PATH_ENV} environment variable."
)


def load_elec2(path: str | Path | None = None) -> pd.DataFrame:
    """Read Elec2 in time order; adds a half-hourly UTC ``timestamp`` (the file has no dates)."""
    csv = Path(path) if path is not None else DataConfig().resolved_elec2_path()
    if not csv.is_file():
        raise DataError(f"Elec2 file not found at {csv}.", _WHERE)
    frame = pd.read_csv(csv)
    missing = [c for c in (*ELEC2_FEATURES, "class") if c not in frame.columns]
    if missing:
        raise DataError(f"{csv} lacks Elec2 columns {missing}; found {list(frame.columns)}.", _WHERE)
    frame = frame[[*ELEC2_FEATURES, "class"]].astype({c: "float64" for c in ELEC2_FEATURES})
    frame["class"] = frame["class"].astype(np.int64)
    frame["timestamp"] = pd.Timestamp("1996-05-07", tz="UTC") + pd.to_timedelta(np.arange(len(frame)) * 30, unit="min")
    return frame
