"""RolloutStore: round trip, revision increments, stale writes, atomic replace, audit log, pluggable FS."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from driftline.core.errors import RolloutError
from driftline.core.fs import LocalFileSystem
from driftline.rollout.counters import Observation, VariantCounters
from driftline.rollout.machine import abort, start, step
from driftline.rollout.spec import RolloutSpec
from driftline.rollout.store import RolloutStore

SPEC = RolloutSpec(
    mode="canary", candidate_version="4", canary={"min_seconds_per_step": 0, "min_requests_per_step": 10}
)


class MemoryFS:
    """In-memory stand-in for an object store (what an fsspec/pyarrow adapter would implement)."""

    def __init__(self) -> None:
        self.files: dict[str, str] = {}

    def read_text(self, path: str) -> str | None:
        return self.files.get(path)

    def write_text_atomic(self, path: str, text: str) -> None:
        self.files[path] = text

    def append_text(self, path: str, text: str) -> None:
        self.files[path] = self.files.get(path, "") + text

    def makedirs(self, path: str) -> None:
        pass

    def remove(self, path: str) -> None:
        self.files.pop(path, None)


def test_round_trip_and_revision_increments(tmp_path: Path) -> None:
    store = RolloutStore.for_workdir(tmp_path)
    assert store.load() is None and store.state_path == f"{tmp_path}/state/rollout.json"
    s1 = store.save(start(SPEC, now=0.0))
    win = VariantCounters.from_samples([0.01] * 50)
    s2 = store.save(step(s1, Observation(1.0, win, win)).state)
    s3 = store.save(abort(s2, now=2.0).state)
    assert [s.revision for s in (s1, s2, s3)] == [1, 2, 3]
    assert store.load() == s3
    assert RolloutStore(tmp_path / "state").load() == s3  # a second reader (another router) sees the same


def test_transitions_log_is_append_only_across_rollouts(tmp_path: Path) -> None:
    store = RolloutStore(tmp_path)
    first = store.save(start(SPEC, now=0.0))
    store.save(abort(first, now=1.0, reason="bad").state)
    second = store.save(start(SPEC, now=5.0))
    assert second.revision == 3  # revisions keep growing across rollouts
    lines = [json.loads(x) for x in (tmp_path / "transitions.jsonl").read_text().splitlines()]
    assert [(x["from"], x["to"]) for x in lines] == [
        ("PENDING", "CANARY"),
        ("CANARY", "ROLLED_BACK"),
        ("PENDING", "CANARY"),
    ]
    assert lines[1]["reason"] == "bad" and lines[0]["rollout_id"] != lines[2]["rollout_id"]
    assert len(store.transitions()) == 3


def test_stale_write_is_refused(tmp_path: Path) -> None:
    store = RolloutStore(tmp_path)
    saved = store.save(start(SPEC, now=0.0))
    store.save(saved)
    with pytest.raises(RolloutError, match="stored revision is 2, this state was read at revision 1"):
        store.save(saved)


def test_failed_write_leaves_the_old_state_and_no_temp_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = RolloutStore(tmp_path)
    saved = store.save(start(SPEC, now=0.0))
    before = (tmp_path / "rollout.json").read_bytes()

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        store.save(abort(saved, now=1.0).state)
    assert (tmp_path / "rollout.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rollout.json", "transitions.jsonl"]


def test_readers_never_see_a_partial_file(tmp_path: Path) -> None:
    store = RolloutStore(tmp_path)
    state = store.save(start(SPEC, now=0.0))
    stop, errors = threading.Event(), []

    def read() -> None:
        fs = LocalFileSystem()
        while not stop.is_set():
            text = fs.read_text(store.state_path)
            try:
                json.loads(text or "")
            except ValueError as exc:
                errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    win = VariantCounters.from_samples([0.01] * 3)
    for i in range(150):
        state = store.save(step(state, Observation(float(i + 1), win, win)).state)
    stop.set()
    reader.join()
    assert errors == [] and state.revision == 151


def test_pluggable_filesystem_and_corrupt_state() -> None:
    fs = MemoryFS()
    store = RolloutStore("s3://bucket/driftline/state", fs)
    saved = store.save(start(SPEC, now=0.0))
    assert store.load() == saved and "s3://bucket/driftline/state/rollout.json" in fs.files
    fs.files[store.state_path] = "{not json"
    with pytest.raises(RolloutError, match="unreadable"):
        store.load()
    moved = store.quarantine()  # what the controller does at start: kept aside, then a clean start
    assert fs.files[moved] == "{not json" and store.load() is None
    fs.files[store.transitions_path] += '{"rollout_id": "4-0", "from": "CAN'  # a torn last audit line
    assert len(store.transitions()) == 1
