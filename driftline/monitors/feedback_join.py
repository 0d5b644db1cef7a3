"""Labels for a window, joined on ``(request_id, row)`` without loading the feedback log anywhere.

A label arrives after its prediction, so the feedback that can belong to a block of predictions logged from hour
``H`` lies in the feedback log's hour partitions from ``H`` (less one hour of clock slack between replicas) up to
the block's last prediction plus ``max_label_delay_hours`` (no upper bound when unset). Each block (the whole
window in the memory engine, one Parquet block in a Ray task) scans only those files, with the block's own request
ids pushed into the scan as a filter, so what it holds is its own labels: the join is aligned with the time
partitions and bounded by the window, and the driver ships only a list of file names. The latest label per key
wins (by the feedback's ``timestamp`` when it has one, else by file order).

>>> import tempfile, pathlib, pyarrow as pa, pyarrow.parquet as pq
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> pq.write_table(pa.table({"request_id": ["a", "b", "a"], "label": [0, 1, 1]}), root / "fb.parquet")
>>> log = open_feedback(root / "fb.parquet")
>>> log.labels_for(pa.table({"request_id": ["a", "c", "b"]})).to_pylist()
[1, None, 1]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from driftline.core.errors import DataError
from driftline.core.partitions import HOUR_SECONDS, partition_start
from driftline.monitors.window_files import to_micros, window_files

__all__ = ["FeedbackLog", "feedback_keys", "open_feedback"]

_KEY_SEP = "\x1f"  # unit separator: cannot appear in a request id the router issues or accepts
CLOCK_SLACK_SECONDS = HOUR_SECONDS
NEEDED = ("request_id", "label")


def feedback_keys(table: pa.Table) -> pa.Array:
    """The join key of each row: ``request_id`` and ``row`` (0 when the table has no row column)."""
    ids = table.column("request_id").cast(pa.string())
    if "row" in table.column_names:
        rows = table.column("row").cast(pa.int64()).cast(pa.string())
    else:
        rows = pa.array(["0"] * table.num_rows, pa.string())
    return pc.binary_join_element_wise(ids, rows, _KEY_SEP)


@dataclass(frozen=True)
class FeedbackLog:
    """The feedback files a window's labels can be in, each with the start of its hour partition (None: unknown)."""

    files: tuple[tuple[float | None, str], ...]
    columns: tuple[str, ...]  # of request_id, row, label, timestamp: those the log has
    id_type: pa.DataType
    max_label_delay_hours: float | None = None

    def paths_for(self, first_s: float | None, last_s: float | None) -> list[str]:
        """Files that can hold labels of predictions made between ``first_s`` and ``last_s`` (Unix seconds)."""
        delay = None if self.max_label_delay_hours is None else self.max_label_delay_hours * HOUR_SECONDS
        keep = []
        for start, path in self.files:
            if start is not None and first_s is not None and start + HOUR_SECONDS <= first_s - CLOCK_SLACK_SECONDS:
                continue  # the hour ended before the first prediction
            if start is not None and last_s is not None and delay is not None and start > last_s + delay:
                continue  # later than any label of this block may arrive
            keep.append(path)
        return keep

    def labels_for(self, table: pa.Table, span_us: tuple[int | None, int | None] = (None, None)) -> pa.Array:
        """One label per row of ``table`` (null where none arrived), read from the files its time span needs.

        ``span_us``: the first and last prediction time of ``table`` in microseconds (None: unknown, no pruning).
        """
        first, last = (None if t is None else t / 1e6 for t in span_us)
        paths = self.paths_for(first, last)
        if not paths or not table.num_rows:
            return pa.nulls(table.num_rows)
        ids = pc.unique(table.column("request_id").cast(self.id_type))
        found = pads.dataset(paths, format="parquet").to_table(
            columns=list(self.columns), filter=pc.field("request_id").isin(ids)
        )
        keys, labels = _latest(found)
        return pc.take(labels, pc.index_in(feedback_keys(table), value_set=keys))


def _latest(table: pa.Table) -> tuple[pa.Array, pa.Array]:
    """Unique keys and each key's latest label."""
    if "timestamp" in table.column_names and pa.types.is_timestamp(table.schema.field("timestamp").type):
        table = table.sort_by([("timestamp", "ascending")])
    keys = feedback_keys(table)
    rev = pa.array(np.arange(table.num_rows)[::-1])  # the last occurrence of a key is the first one reversed
    keys_rev = pc.take(keys, rev)
    keep = pc.take(rev, pc.index_in(pc.unique(keys_rev), value_set=keys_rev))
    return pc.take(keys, keep).combine_chunks(), pc.take(table.column("label"), keep).combine_chunks()


def open_feedback(
    path: str | Path,
    since: str | datetime | None = None,
    *,
    max_label_delay_hours: float | None = None,
) -> FeedbackLog:
    """The feedback log at ``path`` (file or folder; ``dt=/hour=`` partitions pruned), checked but not read.

    Only hours from ``since`` (less the clock slack) are kept: a label cannot arrive before its prediction.
    """
    if "://" not in str(path) and not Path(path).exists():
        raise DataError(f"No feedback log at {path}.", "Check the --feedback path.")
    since_us = to_micros(since)
    since_us = None if since_us is None else since_us - round(CLOCK_SLACK_SECONDS * 1e6)
    paths = window_files(path, since_us, None).paths
    if not paths:
        raise DataError(f"The feedback log at {path} has no readable Parquet files.", "Check the --feedback path.")
    schema = pq.read_schema(paths[0])
    missing = sorted(set(NEEDED) - set(schema.names))
    if missing:
        raise DataError(f"Feedback log {path} lacks columns {missing}.", "It needs request_id and label columns.")
    columns = tuple(c for c in ("request_id", "row", "label", "timestamp") if c in schema.names)
    id_type = schema.field("request_id").type
    id_type = id_type.value_type if pa.types.is_dictionary(id_type) else id_type
    files = tuple((partition_start(p), p) for p in paths)
    return FeedbackLog(files, columns, id_type, max_label_delay_hours)
