"""Runs of answers: the consecutive rows of one request in one role, as a router logs a request.

The label index keeps answers a run at a time (``label_index.py``); these build the runs from the records a router
sends (one run each), from log rows and from the Parquet files of the prediction log (at a restart), and the labels
from a feedback-log file.

>>> rows = [{"request_id": "r1", "row": n, "role": "served", "timestamp": 1.0, "variant": "champion",
...          "model_version": "3", "prediction": p} for n, p in enumerate("yny")]
>>> [(run.first_row, run.predictions, start, end) for run, start, end in runs_of_rows(rows)]
[(0, ['y', 'n', 'y'], 0, 3)]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from driftline.core.records import PredictionRecord
from driftline.serve_apps.label_index import IndexedAnswers

__all__ = ["INDEXED_COLUMNS", "labels_of_table", "run_of_record", "runs_of_rows", "runs_of_table"]

INDEXED_COLUMNS = [
    "request_id",
    "row",
    "role",
    "timestamp",
    "model_name",
    "variant",
    "model_version",
    "prediction",
    "entity_id",
]


def run_of_record(record: PredictionRecord) -> IndexedAnswers:
    """The one run of a router's record: its request's rows from 0, in its role."""
    return IndexedAnswers(
        record.request_id,
        record.role,
        0,
        record.timestamp,
        record.model_name,
        record.variant,
        record.model_version,
        record.predictions,
        record.entity_ids,
    )


def runs_of_rows(rows: list[dict[str, Any]]) -> list[tuple[IndexedAnswers, int, int]]:
    """The runs of log ``rows`` (consecutive rows of one request and role), each with the slice of ``rows`` it
    covers."""
    columns = {name: [r.get(name) for r in rows] for name in INDEXED_COLUMNS}
    return _runs_of_columns(columns, len(rows))


def runs_of_table(table: Any) -> list[IndexedAnswers]:
    """The runs of (a slice of) one prediction-log file: an Arrow table or record batch."""
    present = table.schema.names
    columns = {name: table.column(name).to_pylist() if name in present else None for name in INDEXED_COLUMNS}
    micros = pc.cast(table.column("timestamp"), pa.int64()).to_pylist()
    columns["timestamp"] = [m / 1e6 for m in micros]
    return [run for run, _, _ in _runs_of_columns(columns, table.num_rows)]


def _runs_of_columns(columns: Mapping[str, list[Any] | None], count: int) -> list[tuple[IndexedAnswers, int, int]]:
    rids, roles, rows = columns["request_id"], columns["role"], columns["row"]
    times, variants, versions = columns["timestamp"], columns["variant"], columns["model_version"]
    predictions, models = columns["prediction"], columns["model_name"] or [""] * count  # older files lack it
    entities = columns.get("entity_id")  # files of models with a business key; older files lack the column
    assert rids is not None and roles is not None and rows is not None and predictions is not None
    assert times is not None and variants is not None and versions is not None
    runs: list[tuple[IndexedAnswers, int, int]] = []
    start = 0
    for end in range(1, count + 1):
        if end < count and rids[end] == rids[start] and roles[end] == roles[start] and rows[end] == rows[end - 1] + 1:
            continue
        run = IndexedAnswers(
            rids[start],
            roles[start],
            int(rows[start]),
            float(times[start]),
            str(models[start] or ""),
            variants[start],
            str(versions[start]),
            predictions[start:end],
            entities[start:end] if entities is not None and any(entities[start:end]) else None,
        )
        runs.append((run, start, end))
        start = end
    return runs


def labels_of_table(table: Any) -> list[tuple[str, int, float, Any]]:
    """(request_id, row, born, label) of one feedback-log file."""
    rids, rows, times, labels = (table.column(n).to_pylist() for n in ("request_id", "row", "timestamp", "label"))
    return [(r, int(n), t.timestamp(), label) for r, n, t, label in zip(rids, rows, times, labels, strict=True)]
