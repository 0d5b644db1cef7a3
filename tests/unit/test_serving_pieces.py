"""Pure parts of serving: slot placement, feedback parsing, bearer check, the log writer's join semantics."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from driftline.core.records import PredictionRecord
from driftline.rollout.traffic import TrafficConfig, TrafficMode
from driftline.serve_apps.admin import check_bearer
from driftline.serve_apps.feedback import parse_feedback
from driftline.serve_apps.log_writer import LogWriter
from driftline.serve_apps.payload import PayloadError
from driftline.serve_apps.prediction_log import FEEDBACK, PREDICTIONS, ParquetSink, hour_partition
from driftline.serve_apps.serving_state import ServingState, ServingStateStore
from driftline.serve_apps.window import TrafficWindow
from tests.log_records import answer


def test_promotion_flips_roles_without_reloading() -> None:
    state = ServingState.initial("3")
    canary = state.apply(TrafficConfig("3", "4", TrafficMode.CANARY, 0.25, revision=1))
    assert canary.slots == {"a": "3", "b": "4"} and canary.champion_slot == "a"
    promoted = canary.apply(TrafficConfig("4", None, revision=2))
    assert promoted.slots == canary.slots and promoted.champion_slot == "b"  # no model moved
    nxt = promoted.apply(TrafficConfig("4", "5", TrafficMode.SHADOW, 0.0, 1.0, revision=3))
    assert nxt.slots == {"a": "5", "b": "4"} and nxt.candidate_slot == "a"
    rolled_back = nxt.apply(TrafficConfig("4", None, revision=4))
    assert rolled_back.champion_slot == "b" and rolled_back.traffic.mode is TrafficMode.NONE


def test_unknown_champion_is_loaded_where_the_candidate_is_not() -> None:
    state = ServingState(TrafficConfig("3"), {"a": "3", "b": "4"}, "a")
    moved = state.apply(TrafficConfig("9", "4", TrafficMode.CANARY, 0.1, revision=1))
    assert moved.slots == {"a": "9", "b": "4"} and moved.champion_slot == "a"


def test_serving_state_store_round_trip(tmp_path: Path) -> None:
    store = ServingStateStore(tmp_path)
    assert store.load() is None
    state = ServingState.initial("2").apply(TrafficConfig("2", "5", TrafficMode.AB, 0.3, salt="s", revision=4))
    store.save(state)
    assert store.load() == state


def test_bearer_check_is_strict() -> None:
    assert check_bearer("Bearer tok", "tok") and check_bearer("bearer tok", "tok")
    assert not check_bearer("Basic tok", "tok") and not check_bearer("Bearer tok", None)
    assert not check_bearer("Bearer tok2", "tok") and not check_bearer("", "tok")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"request_id": "", "label": 1}, "bad_request_id"),
        ({"request_id": "r", "label": True}, "unknown_class"),  # a boolean is not the class 1
        ({"request_id": "r", "label": 1.5}, "unknown_class"),
        ({"request_id": "r", "label": "1"}, "unknown_class"),
        ({"request_id": "r", "label": [1]}, "wrong_type"),
        ({"request_id": "r", "label": 7}, "unknown_class"),
        ({"request_id": "r", "label": 1, "row": -1}, "wrong_type"),
        ({"items": []}, "empty_batch"),
        ({"items": [{"request_id": "r", "label": 1}, "x"]}, "bad_item"),
    ],
)
def test_bad_feedback_is_rejected(body: object, code: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse_feedback(body, (0, 1))
    assert info.value.code == code


def test_feedback_takes_the_models_own_class_values() -> None:
    items, _ = parse_feedback(
        {"items": [{"request_id": "r", "label": "yes"}, {"request_id": "s", "label": "no"}]}, ("no", "yes")
    )
    assert [i["label"] for i in items] == ["yes", "no"]
    assert parse_feedback({"request_id": "r", "label": 1.0}, (0, 1))[0][0]["label"] == 1  # the class, as an int
    assert parse_feedback({"request_id": "r", "label": False}, (False, True))[0][0]["label"] is False
    with pytest.raises(PayloadError, match="'maybe' is not one of"):
        parse_feedback({"request_id": "r", "label": "maybe"}, ("no", "yes"))


def test_window_drains_counters() -> None:
    window = TrafficWindow()
    window.record("champion", 0.01)
    window.record("candidate", 0.02, error=True)
    window.record("candidate", 0.03, compared=1, agreed=1)
    window.label("candidate", correct=True)
    drained = window.drain()
    assert drained["candidate"]["requests"] == 2 and drained["candidate"]["errors"] == 1
    assert drained["candidate"]["labelled"] == 1 and drained["candidate"]["agreed"] == 1
    assert window.empty()


def _record(rid: str, role: str, variant: str, prediction: int) -> PredictionRecord:
    return answer(rid, when=time.time(), role=role, variant=variant, prediction=prediction)


def test_log_writer_joins_feedback_once_and_survives_restart(tmp_path: Path) -> None:
    writer = LogWriter(str(tmp_path), flush_rows=10_000, flush_seconds=60)
    writer.append([_record("r1", "served", "champion", 1), _record("r1", "shadow", "candidate", 0)])
    first = writer.feedback([{"request_id": "r1", "label": 1}], time.time())[0]
    assert first["status"] == "accepted"
    assert {(s["variant"], s["correct"]) for s in first["scored"]} == {("champion", True), ("candidate", False)}
    assert writer.feedback([{"request_id": "r1", "label": 1}], time.time())[0]["status"] == "duplicate"
    assert writer.feedback([{"request_id": "r1", "label": 0}], time.time())[0]["status"] == "conflict"
    assert writer.feedback([{"request_id": "zz", "label": 0}], time.time())[0]["status"] == "unknown_request_id"
    # The accepted label made its predictions durable at once (a 200 needs them on disk to be joinable).
    assert writer.flush() == {PREDICTIONS: 0, FEEDBACK: 1}
    sink = ParquetSink(tmp_path)
    assert len(sink.read(PREDICTIONS)) == 2 and sink.read(FEEDBACK)["label"].tolist() == [1]
    restarted = LogWriter(str(tmp_path), flush_rows=10_000, flush_seconds=60)  # index rebuilt from the logs
    assert restarted.feedback([{"request_id": "r1", "label": 1}], time.time())[0]["status"] == "duplicate"


def test_partitions_are_hourly_utc() -> None:
    assert hour_partition(1767225600.0) == "dt=2026-01-01/hour=00"


def test_an_unreadable_serving_state_is_reported_not_fatal(tmp_path: Path) -> None:
    from driftline.serve_apps.serving_state import SERVING_DOCUMENT, ServingState, ServingStateStore

    store = ServingStateStore(tmp_path)
    store.save(ServingState.initial("3"))
    store.db.put(SERVING_DOCUMENT, {"slots": {}}, expected_revision=1)  # edited by hand / an older schema
    assert store.load() is None and "unreadable" in (store.problem or "")
    store.save(ServingState.initial("3"))
    assert store.load() == ServingState.initial("3") and store.problem is None


def test_a_state_database_file_that_is_not_a_database_is_moved_aside(tmp_path: Path) -> None:
    from driftline.core.timeline import Timeline

    (tmp_path / "driftline.db").write_bytes(b"\x00garbage, not SQLite" * 100)  # overwritten or truncated
    timeline = Timeline(tmp_path)
    timeline.append("decision", "retrain")
    assert [e["kind"] for e in timeline.read()] == ["decision"]
    assert len(list(tmp_path.glob("driftline.db.corrupt-*"))) == 1  # kept for a post-mortem
