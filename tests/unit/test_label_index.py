"""The label window: every prediction inside it can be labelled once, however much traffic came after it.

The log writer and its on-disk index with real files (no Ray): no label is refused for lack of memory, a label past
the window is ``expired`` (never ``unknown_request_id``), exactly-once holds across restarts and a failed index
commit, and pruning keeps the index to the window.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from driftline.core.records import PredictionRecord
from driftline.serve_apps.label_index import IndexedAnswers, LabelIndex
from driftline.serve_apps.log_writer import LogWriter
from driftline.serve_apps.prediction_log import FEEDBACK, ParquetSink
from driftline.serve_apps.request_ids import issued_at, new_request_id
from tests.log_records import answer


def _records(request_id: str, rows: int, when: float, role: str = "served") -> list[PredictionRecord]:
    return [answer(request_id, rows, when, role, prediction="yes")]


def _status(writer: LogWriter, request_id: str, label: Any = "yes", row: int = 0, now: float | None = None) -> str:
    item = {"request_id": request_id, "row": row, "label": label}
    return str(writer.feedback([item], time.time() if now is None else now)[0]["status"])


def test_a_label_joins_after_many_newer_rows(tmp_path: Path) -> None:
    """The old writer kept only the newest predictions in memory (``index_size``) and answered 404 for the rest;
    the real Serve test sends 2,000,000 rows after the labelled one."""
    writer = LogWriter(str(tmp_path), flush_rows=20_000, flush_seconds=3600)
    now = time.time()
    first = new_request_id(now)
    writer.append(_records(first, 1, now))
    for batch in range(10):
        writer.append(_records(new_request_id(now + batch * 0.01), 10_000, now))
    assert _status(writer, first) == "accepted"
    assert _status(writer, first) == "duplicate" and _status(writer, first, "no") == "conflict"
    writer.close()
    restarted = LogWriter(str(tmp_path), flush_rows=20_000, flush_seconds=3600)
    assert restarted.caught_up_files == 0  # everything was indexed before the restart: nothing re-read
    assert _status(restarted, first) == "duplicate"


def test_a_label_past_the_window_is_expired_not_unknown(tmp_path: Path) -> None:
    now = time.time()
    writer = LogWriter(str(tmp_path), flush_rows=10, flush_seconds=3600, window_hours=1.0)
    old, fresh = new_request_id(now - 2 * 3600), new_request_id(now)
    writer.append(_records(old, 1, now - 2 * 3600) + _records(fresh, 1, now) + _records("legacy", 1, now - 7200))
    writer.flush()
    assert _status(writer, old) == "expired"  # still in the index, older than the window
    assert _status(writer, "legacy") == "expired"  # an id that carries no time: the logged time says it
    assert _status(writer, fresh) == "accepted"
    outcome = writer.feedback([{"request_id": old, "row": 0, "label": "yes"}], now)[0]
    assert "1 h" in outcome["message"] and "feedback_window_hours" in outcome["message"]
    writer._index.prune(before=now - 3600)  # gone from the index: its id still says when it was issued
    assert _status(writer, old) == "expired"
    assert _status(writer, new_request_id(now)) == "unknown_request_id"  # issued recently, never logged


def test_pruning_keeps_the_index_to_the_window(tmp_path: Path) -> None:
    index = LabelIndex(tmp_path)
    runs = [IndexedAnswers(f"r{i}", "served", 0, 1000.0 + i, "m", "champion", "1", [1]) for i in range(1000)]
    index.add_answers(runs, "predictions/dt=1970-01-01/hour=00/part-1.parquet", 0.0)
    index.add_labels([(f"r{i}", 0, 1000.0 + i, 1) for i in range(1000)])
    assert index.prune(before=1500.0, chunk=64) == 2 * 500
    assert index.rows() == 500 and index.answers(("r499", 0)) == [] and index.label(("r499", 0)) is None
    assert index.answers(("r500", 0))[0].prediction == 1 and index.label(("r500", 0)) is not None


def test_a_failed_index_commit_loses_no_label(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Parquet file is written but the index cannot take it (e.g. its disk is full): its keys stay in memory,
    labels still join, and a restart indexes the file it missed."""
    writer = LogWriter(str(tmp_path), flush_rows=100_000, flush_seconds=3600)
    rid, now = new_request_id(time.time()), time.time()
    writer.append(_records(rid, 3, now))

    def fails(*_args: Any, **_kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(LabelIndex, "add_answers", fails)
    with pytest.raises(OSError):
        writer.flush()
    assert writer.health()["status"] == "degraded" and writer.health()["buffered"]["predictions"] == 0
    assert _status(writer, rid, row=1) == "accepted"  # joined from memory
    monkeypatch.undo()
    restarted = LogWriter(str(tmp_path), flush_rows=100_000, flush_seconds=3600)
    assert restarted.caught_up_files >= 1
    assert _status(restarted, rid, row=1) == "duplicate" and _status(restarted, rid, row=2) == "accepted"
    restarted.close()
    assert sorted(ParquetSink(tmp_path).read(FEEDBACK)["row"].tolist()) == [1, 2]  # each label once


def test_a_lost_index_is_rebuilt_from_the_window_of_logs(tmp_path: Path) -> None:
    writer = LogWriter(str(tmp_path), flush_rows=100_000, flush_seconds=3600)
    now = time.time()
    rids = [new_request_id(now) for _ in range(5)]
    for rid in rids:
        writer.append(_records(rid, 2, now) + _records(rid, 2, now, role="shadow"))
    assert _status(writer, rids[0]) == "accepted"
    writer.close()
    for path in (tmp_path / "label_index").iterdir():
        path.unlink()  # the writer moved to a node without its index
    restarted = LogWriter(str(tmp_path), flush_rows=100_000, flush_seconds=3600)
    assert _status(restarted, rids[0]) == "duplicate"
    scored = restarted.feedback([{"request_id": rids[1], "row": 1, "label": "no"}], now)[0]["scored"]
    assert sorted((s["role"], s["correct"]) for s in scored) == [("served", False), ("shadow", False)]


def test_a_batch_request_is_one_run_and_each_row_is_labelled_alone(tmp_path: Path) -> None:
    """A 1,000-row request is one index row; its rows are labelled one by one, each scored against its own
    prediction; a resent batch (the router saw no answer) adds nothing, buffered or on disk."""
    writer = LogWriter(str(tmp_path), flush_rows=100_000, flush_seconds=3600)
    rid, now = new_request_id(time.time()), time.time()
    batch = _records(rid, 1_000, now)
    batch[0].predictions[:] = ["yes" if row % 3 else "no" for row in range(1_000)]
    assert writer.append(batch) == 1_000 and writer.append(batch) == 0
    writer.flush()
    assert writer.append(batch) == 0 and writer._index.rows() == 1
    assert writer._pending == {}  # nothing of it left in memory once indexed, resent or not
    for row in (0, 1, 999):
        scored = writer.feedback([{"request_id": rid, "row": row, "label": "yes"}], now)[0]["scored"]
        assert scored[0]["correct"] is bool(row % 3)
    assert _status(writer, rid, row=1_000) == "unknown_request_id"


def test_request_ids_carry_their_time() -> None:
    now = time.time()
    ids = [new_request_id(now + i) for i in range(100)]
    assert ids == sorted(ids) and len(set(ids)) == 100  # time-ordered, unique
    assert all(abs((issued_at(r) or 0) - (now + i)) < 0.001 for i, r in enumerate(ids))
