"""The feedback join: aligned with the hour partitions, bounded by the window, latest label wins."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftline.core.errors import DataError
from driftline.core.partitions import hour_partition
from driftline.monitors.feedback_join import open_feedback

T0 = datetime(2026, 5, 1, tzinfo=timezone.utc)
US = pa.timestamp("us", tz="UTC")


def _write_hour(root: Path, at: datetime, ids: list[str], labels: list[int]) -> None:
    folder = root / hour_partition(at.timestamp())
    folder.mkdir(parents=True, exist_ok=True)
    n = len(list(folder.glob("*.parquet")))
    table = pa.table(
        {"request_id": ids, "row": [0] * len(ids), "label": labels, "timestamp": pa.array([at] * len(ids), US)}
    )
    pq.write_table(table, folder / f"part-{n}.parquet")


def _span(at: datetime) -> tuple[int, int]:
    """The block's first and last prediction time (all its rows are at ``at``), in microseconds."""
    return round(at.timestamp() * 1e6), round(at.timestamp() * 1e6)


def _window(ids: list[str], at: datetime) -> pa.Table:
    return pa.table({"request_id": ids, "row": [0] * len(ids), "timestamp": pa.array([at] * len(ids), US)})


def test_labels_join_on_request_id_and_row_and_the_latest_wins(tmp_path: Path) -> None:
    _write_hour(tmp_path, T0 + timedelta(minutes=10), ["a", "b"], [0, 1])
    _write_hour(tmp_path, T0 + timedelta(hours=2), ["a"], [1])  # a correction, two hours later
    log = open_feedback(tmp_path)
    got = log.labels_for(_window(["a", "b", "c"], T0), _span(T0))
    assert got.to_pylist() == [1, 1, None]


def test_a_block_reads_only_the_hours_its_labels_can_be_in(tmp_path: Path) -> None:
    early, late = T0 - timedelta(hours=5), T0 + timedelta(days=3)
    _write_hour(tmp_path, early, ["a"], [1])  # before the prediction: cannot be its label
    _write_hour(tmp_path, T0 + timedelta(minutes=30), ["a"], [0])
    _write_hour(tmp_path, late, ["a"], [1])  # three days later: past a 24 h label delay
    block = _window(["a"], T0 + timedelta(minutes=5))
    unbounded = open_feedback(tmp_path)
    assert len(unbounded.paths_for(T0.timestamp(), T0.timestamp())) == 2  # the early hour is left out
    assert unbounded.labels_for(block, _span(T0 + timedelta(minutes=5))).to_pylist() == [1]  # the late correction wins
    bounded = open_feedback(tmp_path, max_label_delay_hours=24)
    assert bounded.labels_for(block, _span(T0 + timedelta(minutes=5))).to_pylist() == [0]
    since_pruned = open_feedback(tmp_path, since=T0 + timedelta(days=1))  # the driver lists only from `since`
    assert [p for _, p in since_pruned.files] == [p for s, p in unbounded.files if s and s >= late.timestamp() - 3600]


def test_what_travels_to_the_blocks_is_file_names_not_labels(tmp_path: Path) -> None:
    ids = [f"r{i}" for i in range(100_000)]
    _write_hour(tmp_path, T0, ids, list(np.arange(100_000) % 2))
    log = open_feedback(tmp_path)
    assert len(pickle.dumps(log)) < 2_000  # the 100k labels stay on disk until a block asks for its own
    got = log.labels_for(_window(ids[:3], T0), _span(T0))
    assert got.to_pylist() == [0, 1, 0]


def test_a_feedback_log_without_its_columns_is_refused(tmp_path: Path) -> None:
    pq.write_table(pa.table({"request_id": ["a"]}), tmp_path / "fb.parquet")
    with pytest.raises(DataError, match="lacks columns"):
        open_feedback(tmp_path / "fb.parquet")
    with pytest.raises(DataError, match="No feedback log"):
        open_feedback(tmp_path / "missing")
