"""RolloutStore on the state database: round trip, revisions, compare-and-swap, one transaction, audit log."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from driftline.core import state_db
from driftline.core.errors import RolloutError
from driftline.core.state_db import StateDB, state_db_at
from driftline.rollout.counters import Observation, VariantCounters
from driftline.rollout.machine import abort, start, step
from driftline.rollout.spec import RolloutSpec
from driftline.rollout.store import DOCUMENT, TRANSITIONS, RolloutStore

SPEC = RolloutSpec(
    mode="canary", candidate_version="4", canary={"min_seconds_per_step": 0, "min_requests_per_step": 10}
)


def test_round_trip_and_revision_increments(tmp_path: Path) -> None:
    store = RolloutStore.for_workdir(tmp_path)
    assert store.load() is None and (tmp_path / "state" / "driftline.db").is_file()
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
    lines = store.db.events(TRANSITIONS)
    assert [(x["from"], x["to"]) for x in lines] == [
        ("PENDING", "CANARY"),
        ("CANARY", "ROLLED_BACK"),
        ("PENDING", "CANARY"),
    ]
    assert lines[1]["reason"] == "bad" and lines[0]["rollout_id"] != lines[2]["rollout_id"]
    assert [x["revision"] for x in lines] == [1, 2, 3] and len(store.transitions()) == 3


def test_stale_write_is_refused(tmp_path: Path) -> None:
    store = RolloutStore(tmp_path)
    saved = store.save(start(SPEC, now=0.0))
    store.save(saved)
    with pytest.raises(RolloutError, match="stored revision is 2, this state was read at revision 1"):
        store.save(saved)


def test_of_two_writers_that_read_the_same_revision_exactly_one_wins(tmp_path: Path) -> None:
    """The compare-and-swap itself: both read revision 1 and race to write; 50 rounds, never two winners."""
    RolloutStore(tmp_path).save(start(SPEC, now=0.0))
    win = VariantCounters.from_samples([0.01] * 3)
    for round_ in range(50):
        stores = [RolloutStore(state_db_at(tmp_path)) for _ in range(2)]
        read = [s.load() for s in stores]
        assert read[0] == read[1] and read[0] is not None
        barrier, outcomes = threading.Barrier(2), []

        def write(store: RolloutStore, state, i: int = round_, barrier=barrier, outcomes=outcomes) -> None:
            barrier.wait()
            try:
                store.save(step(state, Observation(float(i + 1), win, win)).state)
                outcomes.append("won")
            except RolloutError:
                outcomes.append("stale")

        threads = [threading.Thread(target=write, args=(s, r)) for s, r in zip(stores, read, strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["stale", "won"], round_
    assert RolloutStore(tmp_path).load().revision == 51  # one win per round


def test_a_failed_write_changes_neither_the_state_nor_the_audit_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RolloutStore(tmp_path)
    saved = store.save(start(SPEC, now=0.0))

    def boom(conn, events, now) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(state_db.StateDB, "_append", staticmethod(boom))  # fails after the state row is updated
    with pytest.raises(OSError, match="disk full"):
        store.save(abort(saved, now=1.0).state)
    monkeypatch.undo()
    assert store.load() == saved and len(store.transitions()) == 1  # the update was rolled back with it


def test_readers_never_see_a_partial_state(tmp_path: Path) -> None:
    store = RolloutStore(tmp_path)
    state = store.save(start(SPEC, now=0.0))
    stop, errors, seen = threading.Event(), [], []

    def read() -> None:
        reader = RolloutStore(tmp_path)
        while not stop.is_set():
            try:
                got = reader.load()
                seen.append(got.revision if got else 0)
            except Exception as exc:  # any failure to read is the bug under test
                errors.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    win = VariantCounters.from_samples([0.01] * 3)
    for i in range(150):
        state = store.save(step(state, Observation(float(i + 1), win, win)).state)
    stop.set()
    thread.join()
    assert errors == [] and state.revision == 151 and seen == sorted(seen)  # revisions only ever grow


def test_an_unreadable_state_is_quarantined_and_a_new_rollout_starts_clean(tmp_path: Path) -> None:
    db = StateDB(f"sqlite:///{tmp_path}/s.db")
    store = RolloutStore(db)
    store.save(start(SPEC, now=0.0))
    current = db.get(DOCUMENT)
    db.put(DOCUMENT, {"rollout_id": "x", "spec": {"mode": "nope"}}, expected_revision=current.revision)
    with pytest.raises(RolloutError, match="unreadable"):
        store.load()
    moved = store.quarantine()  # what the controller does at start: kept aside, then a clean start
    assert moved.endswith("#rollout.corrupt") and db.get("rollout.corrupt").body["spec"] == {"mode": "nope"}
    assert store.load() is None and store.save(start(SPEC, now=1.0)).revision == 1
    assert len(store.transitions()) == 2  # the audit log keeps both rollouts
