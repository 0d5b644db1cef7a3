"""In-memory engine: the whole window as one Arrow table, summarised in this process with numpy.

>>> import numpy as np, pandas as pd
>>> from driftline.datasets.schema import DatasetSchema, FeatureKind, FeatureSpec
>>> from driftline.monitors.profile import build_reference_profile
>>> schema = DatasetSchema((FeatureSpec("x", FeatureKind.NUMERIC),), label="y", classes=(0, 1))
>>> prof = build_reference_profile(pd.DataFrame({"x": np.arange(100.0)}), schema, n_bins=10)
>>> summarize_frame(pd.DataFrame({"x": [1.0, 2.0, np.nan]}), prof).numeric["x"].n_nan
1
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa

from driftline.monitors.feedback_join import FeedbackLog
from driftline.monitors.profile import ReferenceProfile
from driftline.monitors.summaries import WindowSummary
from driftline.monitors.window import SummaryPlan, open_window, summarize_table

__all__ = ["summarize_arrow", "summarize_frame", "summarize_parquet"]


def summarize_arrow(
    table: pa.Table,
    profile: ReferenceProfile,
    *,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    feedback: FeedbackLog | None = None,
) -> WindowSummary:
    plan = SummaryPlan.for_window(profile, table.schema, since=since, until=until, feedback=feedback)
    return summarize_table(table.select(plan.columns), plan)


def summarize_frame(df: pd.DataFrame, profile: ReferenceProfile, **kwargs: object) -> WindowSummary:
    """Summary of a pandas window (same rules as Parquet: role filter, label/prediction columns)."""
    return summarize_arrow(pa.Table.from_pandas(df, preserve_index=False), profile, **kwargs)  # type: ignore[arg-type]


def summarize_parquet(
    path: str | Path,
    profile: ReferenceProfile,
    *,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    feedback: FeedbackLog | None = None,
) -> WindowSummary:
    """Read the needed columns of a Parquet window into memory and summarise them."""
    dataset, files = open_window(path, since, until)
    plan = SummaryPlan.for_window(profile, dataset.schema, since=since, until=until, feedback=feedback)
    summary = summarize_table(dataset.to_table(columns=plan.columns), plan)
    return replace(summary, skipped_files=len(files.skipped))
