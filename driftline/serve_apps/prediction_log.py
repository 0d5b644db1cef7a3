"""The prediction and feedback logs: Parquet, partitioned by hour, written by one buffered writer.

Layout (what ``driftline.monitors``' Ray Data job reads)::

    <workdir>/logs/predictions/dt=YYYY-MM-DD/hour=HH/part-<time>-<id>.parquet
    <workdir>/logs/feedback/dt=YYYY-MM-DD/hour=HH/part-<time>-<id>.parquet

A prediction-log row is one row of one answered request (its columns: ``driftline.core.records``). A feedback
record: request_id, row, timestamp, label.

>>> import tempfile
>>> sink = ParquetSink(tempfile.mkdtemp())
>>> sink.write("predictions", [{"request_id": "r1", "row": 0, "timestamp": 1767225600.0, "prediction": 1}])
1
>>> sink.read("predictions")["request_id"].tolist()
['r1']
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from driftline.core.fs import atomic_write
from driftline.core.partitions import hour_dirs, hour_partition

__all__ = ["FEEDBACK", "PREDICTIONS", "ParquetSink", "hour_partition"]

PREDICTIONS = "predictions"
FEEDBACK = "feedback"


class ParquetSink:
    """Appends batches of records (dicts with a float ``timestamp`` in Unix seconds) as new Parquet files.

    Each file is written atomically (temp file, fsync, rename), one per hour partition, so a failed write leaves
    no partial file and a retry of the partitions that failed duplicates nothing. A file that cannot be read is
    moved to ``<root>/quarantine/`` and counted, never fatal.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.quarantined = 0

    @staticmethod
    def partitions(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        by_hour: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for record in records:
            by_hour[int(record["timestamp"] // 3600)].append(record)  # the name once per hour, not per record
        return {hour_partition(hour * 3600.0): rows for hour, rows in sorted(by_hour.items())}

    def write(self, log: str, records: list[dict[str, Any]]) -> int:
        for partition, rows in self.partitions(records).items():
            self.write_partition(log, partition, rows)
        return len(records)

    def write_partition(self, log: str, partition: str, rows: list[dict[str, Any]]) -> Path:
        """One new file in ``log/partition``: all of ``rows`` or, on any error, nothing; returns its path."""
        table = pa.Table.from_pylist(rows)
        seconds = table.column("timestamp").cast(pa.float64())
        micros = pc.cast(pc.round(pc.multiply(seconds, 1e6)), pa.int64())
        table = table.set_column(
            table.schema.get_field_index("timestamp"), "timestamp", micros.cast(pa.timestamp("us", tz="UTC"))
        )
        at = table.schema.get_field_index("entity_id")
        if at >= 0 and pa.types.is_null(table.schema.field(at).type):  # no row had a business key: still a string
            table = table.set_column(at, "entity_id", table.column(at).cast(pa.string()))
        folder = self.root / log / partition
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(tz=timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        target = folder / f"part-{stamp}-{uuid.uuid4().hex[:8]}.parquet"
        atomic_write(target, partial(pq.write_table, table))  # readers never see half a file
        return target

    def name(self, path: Path) -> str:
        """A log file's name relative to the root (``predictions/dt=.../hour=../part-....parquet``)."""
        return path.relative_to(self.root).as_posix()

    def read_file(self, path: Path, columns: list[str] | None = None) -> pa.Table | None:
        """One file's ``columns`` (those it has); None when it is unreadable, and then it is quarantined."""
        try:
            present = set(pq.read_schema(path).names)
            return pq.read_table(path, columns=[c for c in columns if c in present] if columns else None)
        except (OSError, pa.ArrowException):
            self._quarantine(path)
            return None

    def files(self, log: str, since: float | None = None) -> list[Path]:
        """The log's files, oldest partition first; with ``since`` only the hours that end after it."""
        return [f for hour in hour_dirs(self.root / log, since) for f in sorted(hour.glob("part-*.parquet"))]

    def read(self, log: str, columns: list[str] | None = None, since: float | None = None) -> pd.DataFrame:
        """One log, or its hours since ``since`` (for the writer's index and small windows; the drift job uses Ray
        Data); unreadable files are quarantined."""
        frames = []
        for path in self.files(log, since):
            try:
                frames.append(pq.read_table(path, columns=columns).to_pandas())
            except (OSError, pa.ArrowException):
                self._quarantine(path)
        if not frames:
            return pd.DataFrame(columns=columns or [])
        return pd.concat(frames, ignore_index=True)

    def _quarantine(self, path: Path) -> None:
        target = self.root / "quarantine" / path.relative_to(self.root)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        self.quarantined += 1
