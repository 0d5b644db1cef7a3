"""The prediction and feedback logs: Parquet, partitioned by hour, written by one buffered writer.

Layout (what ``driftline.monitors``' Ray Data job reads)::

    <workdir>/logs/predictions/dt=YYYY-MM-DD/hour=HH/part-<time>-<id>.parquet
    <workdir>/logs/feedback/dt=YYYY-MM-DD/hour=HH/part-<time>-<id>.parquet

A prediction record is one row of one request: request_id, row, timestamp (UTC), model_name, model_version,
variant (champion | candidate), role (served | shadow), the feature values under their own names, prediction,
probabilities, latency_ms. A feedback record: request_id, row, timestamp, label.

>>> import tempfile
>>> sink = ParquetSink(tempfile.mkdtemp())
>>> sink.write("predictions", [{"request_id": "r1", "row": 0, "timestamp": 1767225600.0, "prediction": 1}])
1
>>> sink.read("predictions")["request_id"].tolist()
['r1']
"""

from __future__ import annotations

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

__all__ = ["FEEDBACK", "PREDICTIONS", "ParquetSink", "hour_partition"]

PREDICTIONS = "predictions"
FEEDBACK = "feedback"


def hour_partition(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return f"dt={moment:%Y-%m-%d}/hour={moment:%H}"


class ParquetSink:
    """Appends batches of records (dicts with a float ``timestamp`` in Unix seconds) as new Parquet files."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def write(self, log: str, records: list[dict[str, Any]]) -> int:
        by_hour: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in records:
            by_hour[hour_partition(record["timestamp"])].append(record)
        stamp = datetime.now(tz=timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        for partition, rows in by_hour.items():
            table = pa.Table.from_pylist(rows)
            seconds = table.column("timestamp").cast(pa.float64())
            micros = pc.cast(pc.round(pc.multiply(seconds, 1e6)), pa.int64())
            table = table.set_column(
                table.schema.get_field_index("timestamp"), "timestamp", micros.cast(pa.timestamp("us", tz="UTC"))
            )
            folder = self.root / log / partition
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"part-{stamp}-{uuid.uuid4().hex[:8]}.parquet"
            atomic_write(target, partial(pq.write_table, table))  # readers never see half a file
        return len(records)

    def read(self, log: str, columns: list[str] | None = None) -> pd.DataFrame:
        """Everything in one log (for tests and small windows; the drift job uses Ray Data)."""
        files = sorted((self.root / log).glob("dt=*/hour=*/part-*.parquet"))
        if not files:
            return pd.DataFrame(columns=columns or [])
        return pd.concat([pq.read_table(f, columns=columns).to_pandas() for f in files], ignore_index=True)
