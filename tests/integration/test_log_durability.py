"""Durability of the prediction and feedback logs, proven with real processes and real faults.

- A label answered ``accepted`` survives a SIGKILL of the writer's process right after the answer.
- A failed write (one partition refused, or a full disk) loses nothing and duplicates nothing; the writer says it
  is degraded and recovers when the disk has room again.
- An unreadable file in the history is quarantined and counted; the index and the labels still load.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from driftline.core.records import PredictionRecord
from driftline.serve_apps.log_writer import LogWriter
from driftline.serve_apps.prediction_log import FEEDBACK, PREDICTIONS, ParquetSink
from tests.log_records import answer

T0 = float(int(time.time() // 3600 * 3600) - 6 * 3600)  # six hours ago, on the hour: inside the index window


def _record(request_id: str, row: int = 0, timestamp: float = T0, prediction: int = 1) -> PredictionRecord:
    """Row ``row`` of a request: its rows from 0 (a record always starts at row 0) answered alike."""
    return answer(request_id, rows=row + 1, when=timestamp, prediction=prediction)


def _keys(root: Path, log: str) -> list[tuple[str, int]]:
    frame = ParquetSink(root).read(log)
    return sorted(zip(frame["request_id"], frame["row"].astype(int), strict=True)) if len(frame) else []


def test_an_accepted_label_survives_sigkill_of_the_writer(tmp_path: Path) -> None:
    child = textwrap.dedent(
        f"""
        import sys, time
        from driftline.serve_apps.log_writer import LogWriter
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_log_durability import _record
        writer = LogWriter({str(tmp_path)!r}, flush_rows=100_000, flush_seconds=3600)
        writer.append([_record(f"r{{i}}", row=1) for i in range(50)])
        outcomes = writer.feedback([{{"request_id": f"r{{i}}", "row": 1, "label": 1}} for i in range(50)], {T0})
        assert all(o["status"] == "accepted" for o in outcomes), outcomes
        print("ACK", flush=True)
        time.sleep(600)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ACK"
        proc.send_signal(signal.SIGKILL)  # no flush, no __del__: only what was durable before the answer remains
        proc.wait(timeout=30)
    finally:
        proc.kill()
    restarted = LogWriter(str(tmp_path), flush_rows=100_000, flush_seconds=3600)
    assert _keys(tmp_path, FEEDBACK) == [(f"r{i}", 1) for i in sorted(range(50), key=str)]
    assert len(_keys(tmp_path, PREDICTIONS)) == 100  # the labels' predictions were made durable with them
    again = restarted.feedback([{"request_id": "r3", "row": 1, "label": 1}], T0)
    assert again[0]["status"] == "duplicate"  # known after the restart, never counted twice
    LogWriter(str(tmp_path), flush_rows=100_000, flush_seconds=3600).flush()  # a second restart adds nothing
    assert len(_keys(tmp_path, FEEDBACK)) == 50


def test_a_partition_that_fails_is_retried_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = LogWriter(str(tmp_path), flush_rows=100_000, flush_seconds=3600)
    hour = 3600.0
    writer.append(
        [_record("a", timestamp=T0), _record("b", timestamp=T0 + hour), _record("c", timestamp=T0 + 2 * hour)]
    )
    writer.feedback([{"request_id": "a", "row": 0, "label": 1}], T0)  # flushes the predictions first
    writer.append([_record("d", timestamp=T0), _record("e", timestamp=T0 + hour)])
    real = ParquetSink.write_partition
    calls = {"n": 0}

    def second_fails(self: ParquetSink, log: str, partition: str, rows: list[dict[str, Any]]) -> Path:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real(self, log, partition, rows)

    monkeypatch.setattr(ParquetSink, "write_partition", second_fails)
    with pytest.raises(OSError):
        writer.flush()
    assert writer.health()["status"] == "degraded" and writer.health()["buffered"][PREDICTIONS] == 1
    monkeypatch.setattr(ParquetSink, "write_partition", real)
    writer.flush()
    assert writer.health()["status"] == "ok"
    assert _keys(tmp_path, PREDICTIONS) == [(k, 0) for k in "abcde"]  # each once: nothing lost, nothing doubled
    assert _keys(tmp_path, FEEDBACK) == [("a", 0)]


def test_the_periodic_flush_survives_a_failing_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = ParquetSink.write_partition
    failing = {"on": True}

    def maybe_fail(self: ParquetSink, log: str, partition: str, rows: list[dict[str, Any]]) -> Path:
        if failing["on"]:
            raise OSError(5, "Input/output error")
        return real(self, log, partition, rows)

    monkeypatch.setattr(ParquetSink, "write_partition", maybe_fail)
    writer = LogWriter(str(tmp_path), flush_rows=100_000, flush_seconds=0.2)
    writer.append([_record("a")])
    deadline = time.monotonic() + 10
    while writer.health()["status"] != "degraded" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert writer.health()["status"] == "degraded"
    failing["on"] = False
    while _keys(tmp_path, PREDICTIONS) != [("a", 0)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _keys(tmp_path, PREDICTIONS) == [("a", 0)] and writer.health()["status"] == "ok"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: a real full disk (needs root, which this project's machines and CI run as)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs here ({done.stderr.decode().strip()}); needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_refuses_labels_loses_nothing_and_recovers(small_disk: Path) -> None:
    root = small_disk / "logs"
    writer = LogWriter(str(root), flush_rows=100_000, flush_seconds=3600)
    writer.append([_record(f"r{i}") for i in range(20)])
    assert writer.feedback([{"request_id": "r0", "row": 0, "label": 1}], T0)[0]["status"] == "accepted"
    filler = small_disk / "filler"
    with open(filler, "wb", buffering=0) as fh:  # fill the disk to the last byte (unbuffered: close writes nothing)
        for size in (65536, 4096, 512, 1):
            try:
                while fh.write(b"\0" * size):
                    pass
            except OSError:
                pass
    writer.append([_record(f"s{i}") for i in range(20)])
    refused = writer.feedback([{"request_id": "s1", "row": 0, "label": 1}], T0)[0]
    assert refused["status"] == "unavailable" and writer.health()["status"] == "degraded"
    with pytest.raises(OSError):
        writer.flush()
    os.unlink(filler)  # room again
    assert writer.feedback([{"request_id": "s1", "row": 0, "label": 1}], T0)[0]["status"] == "accepted"
    writer.flush()
    assert writer.health()["status"] == "ok"
    assert _keys(root, PREDICTIONS) == sorted([(f"r{i}", 0) for i in range(20)] + [(f"s{i}", 0) for i in range(20)])
    assert _keys(root, FEEDBACK) == [("r0", 0), ("s1", 0)]


def test_an_unreadable_file_is_quarantined_and_the_rest_still_loads(tmp_path: Path) -> None:
    """A torn log file and an overwritten label index: the index is moved aside and rebuilt from the logs, the torn
    file is quarantined, and every label still joins exactly once."""
    writer = LogWriter(str(tmp_path), flush_rows=100_000, flush_seconds=3600)
    writer.append([_record("a"), _record("b", timestamp=T0 + 3600), _record("c", timestamp=T0 + 7200)])
    writer.feedback([{"request_id": "a", "row": 0, "label": 1}], T0)
    writer.close()
    torn = ParquetSink(tmp_path).files(PREDICTIONS)[-1]  # c's hour
    torn.write_bytes(b"PAR1 torn")
    index = tmp_path / "label_index" / "labels.sqlite"
    index.write_bytes(b"\x00 not a database" * 300)
    restarted = LogWriter(str(tmp_path), flush_rows=100_000, flush_seconds=3600)
    health = restarted.health()
    assert health["quarantined_files"] == 1 and health["label_index_rebuilt_from"]
    assert (tmp_path / "quarantine" / torn.relative_to(tmp_path)).is_file()
    assert restarted.feedback([{"request_id": "a", "row": 0, "label": 1}], T0)[0]["status"] == "duplicate"
    assert restarted.feedback([{"request_id": "b", "row": 0, "label": 0}], T0)[0]["status"] == "accepted"
    assert restarted.feedback([{"request_id": "c", "row": 0, "label": 0}], T0)[0]["status"] == "unknown_request_id"


def test_a_restart_reads_only_the_index_window(tmp_path: Path) -> None:
    old = T0 - 30 * 86_400.0
    sink = ParquetSink(tmp_path)
    sink.write(PREDICTIONS, [*_record("old", timestamp=old).rows(), *_record("new", timestamp=T0).rows()])
    writer = LogWriter(str(tmp_path), flush_rows=100_000, flush_seconds=3600, window_hours=48)
    assert writer.feedback([{"request_id": "new", "row": 0, "label": 1}], T0)[0]["status"] == "accepted"
    assert writer.feedback([{"request_id": "old", "row": 0, "label": 1}], T0)[0]["status"] == "unknown_request_id"
