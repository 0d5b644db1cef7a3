"""Ray Data engine: one streaming ``map_batches`` pass over Parquet, one summary per block, summed on the driver.

Each block is summarised where it is read (the read and the map fuse into one task), so only a few hundred KB of
summary per block travel back and memory stays flat as the window grows. Built-in ``Quantile``/``summary()``
aggregations are deliberately not used: the reference edges are fixed, so a histogram is one ``searchsorted`` +
``bincount`` per column per block.

>>> callable(summarize_parquet_ray)
True
"""

from __future__ import annotations

import pickle
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from driftline.core.errors import DataError, DriftlineError
from driftline.monitors.feedback_join import FeedbackLog
from driftline.monitors.profile import ReferenceProfile
from driftline.monitors.summaries import WindowSummary
from driftline.monitors.window import SummaryPlan, open_window, summarize_table

__all__ = ["summarize_parquet_ray"]

BLOB = "summary"


def _summarize_block(batch: pa.Table, plan: SummaryPlan) -> pa.Table:
    # Our own errors travel back as the block's result: Ray Data's UserCodeException drops the original cause.
    result: WindowSummary | DriftlineError
    try:
        result = summarize_table(batch, plan)
    except DriftlineError as exc:
        result = exc
    blob = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    return pa.table({BLOB: pa.array([blob], type=pa.binary())})


def summarize_parquet_ray(
    path: str | Path,
    profile: ReferenceProfile,
    *,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    feedback: FeedbackLog | None = None,
    num_cpus: float = 1.0,
    phases: dict[str, float] | None = None,
) -> WindowSummary:
    """Summary of a Parquet window computed with Ray Data; Ray must be up (``platform.ray_runtime.ensure_ray``).

    ``num_cpus`` per block task: 1 lets a 2-CPU machine summarise two blocks at once, each a numpy loop that
    keeps one core busy; a fraction would oversubscribe the cores without speeding anything up. ``phases``, when
    given, receives the seconds spent planning (listing files, reading footers), in the pass (read + summarise,
    until the last block's summary arrived) and merging the block summaries on the driver.
    """
    import ray

    t0 = time.perf_counter()
    dataset, files = open_window(path, since, until)
    plan = SummaryPlan.for_window(profile, dataset.schema, since=since, until=until, feedback=feedback)
    ds = ray.data.read_parquet(files.paths, columns=plan.columns)
    blocks = ds.map_batches(
        _summarize_block,
        batch_format="pyarrow",
        batch_size=None,  # a whole block per call: few, large numpy operations
        zero_copy_batch=True,
        fn_kwargs={"plan": plan},
        num_cpus=num_cpus,
    )
    t1 = time.perf_counter()
    total: WindowSummary | None = None
    merging = 0.0
    for batch in blocks.iter_batches(batch_size=None, batch_format="pyarrow"):
        started = time.perf_counter()
        for blob in batch.column(BLOB).to_pylist():
            part = pickle.loads(blob)
            if isinstance(part, DriftlineError):
                raise part
            total = part if total is None else total.merge(part)
        merging += time.perf_counter() - started
    if phases is not None:
        phases.update(plan=t1 - t0, scan=time.perf_counter() - t1 - merging, merge=merging)
    if total is None:
        raise DataError(f"The window at {path} has no rows.", "Check the --current path and the time window.")
    return replace(total, skipped_files=len(files.skipped))
