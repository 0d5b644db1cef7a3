"""The control loop's own logic with a fake rollout API: state persistence, rollout following, waiting."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from driftline.core.config_loader import load_config
from driftline.core.state_db import model_state
from driftline.platform.control_loop import ControlLoop, ControlLoopConfig
from driftline.platform.loop_state import LoopState, LoopStateStore
from driftline.platform.policy import PolicyState

NOW = datetime(2026, 11, 29, 12, tzinfo=timezone.utc)


class FakeRollouts:
    def __init__(self, status: dict[str, Any]) -> None:
        self._status = status
        self.started: list[dict[str, Any]] = []

    def status(self) -> dict[str, Any]:
        return self._status

    def start(self, spec: dict[str, Any]) -> dict[str, Any]:
        self.started.append(spec)
        return {}


def _rollout(phase: str, history: list[dict[str, Any]]) -> dict[str, Any]:
    return {"rollout": {"rollout_id": "r1", "phase": phase, "spec": {"candidate_version": "4"}, "history": history}}


def _transition(to: str, reason: str) -> dict[str, Any]:
    return {"from": "CANARY", "to": to, "reason": reason, "evidence": {"weight": 0.5}}


def test_loop_state_round_trips_through_its_file(tmp_path: Path) -> None:
    policy = PolicyState.start(NOW).observe(500, 400)
    policy = PolicyState(
        **{**policy.__dict__, "retrain_times": (NOW, NOW + timedelta(hours=1)), "last_retrain_at": NOW}
    )
    state = LoopState(policy, last_until=1.5e9, ticks=4, seen={"r1": 3})
    store = LoopStateStore(tmp_path)
    store.save(state)
    assert store.load() == (state, None)


def test_an_unreadable_loop_state_is_reported_and_the_loop_starts_fresh(tmp_path: Path) -> None:
    cfg = load_config(None, workdir=tmp_path)
    model_state(cfg).put("loop", {"policy": {"started_at": "2026-11-"}}, expected_revision=0)  # hand-edited
    result = ControlLoop(cfg, ControlLoopConfig(), FakeRollouts({})).tick(NOW)
    assert [e["kind"] for e in result.events] == ["state_unreadable"]
    assert result.reason == "not enough new traffic yet"
    assert LoopStateStore(model_state(cfg)).load()[0] is not None  # rewritten whole


def test_loop_waits_while_a_rollout_is_active_and_records_each_transition_once(tmp_path: Path) -> None:
    cfg = load_config(None, workdir=tmp_path)
    fake = FakeRollouts(_rollout("CANARY", [_transition("CANARY", "step 1 passed")]))
    loop = ControlLoop(cfg, ControlLoopConfig(), fake)
    first = loop.tick(NOW)
    assert first.action == "wait" and "CANARY" in first.reason and fake.started == []
    assert [e["kind"] for e in first.events] == ["rollout_transition"]
    assert loop.tick(NOW).events == []  # already seen: not repeated after a restart either
    fake._status = _rollout("PROMOTED", [_transition("CANARY", "step 1 passed"), _transition("PROMOTED", "all steps")])
    third = ControlLoop(cfg, ControlLoopConfig(), fake).tick(NOW)  # a restarted loop resumes from its stored state
    assert [e["kind"] for e in third.events] == ["promoted"] and third.events[0]["version"] == "4"
    assert third.reason == "not enough new traffic yet"  # no prediction log yet: nothing to analyse
    assert [e["kind"] for e in loop.timeline.read()] == ["rollout_transition", "promoted"]


def test_a_failing_step_is_recorded_and_the_loop_survives(tmp_path: Path) -> None:
    class Broken(FakeRollouts):
        def status(self) -> dict[str, Any]:
            raise ConnectionError("serve app unreachable")

    loop = ControlLoop(load_config(None, workdir=tmp_path), ControlLoopConfig(), Broken({}))
    result = loop.tick(NOW)
    assert result.action == "error" and "unreachable" in result.reason
    assert loop.timeline.read()[-1]["kind"] == "error"
    assert loop.tick(NOW).action == "error"  # and it keeps ticking


def test_retrain_window_starts_near_the_change_found_by_adwin() -> None:
    import numpy as np

    from driftline.platform.control_loop import _rows_since_change

    rng = np.random.default_rng(0)
    errors = np.r_[rng.random(3000) < 0.18, rng.random(400) < 0.55]
    assert 400 <= _rows_since_change(errors) <= 520  # the new regime plus ADWIN's detection delay
    assert _rows_since_change(rng.random(3000) < 0.18) > 2500  # no change: (nearly) everything is one regime


def test_example_loop_config_loads_and_declares_a_valid_rollout() -> None:
    from driftline.core.config_loader import load_yaml_model
    from driftline.rollout.spec import RolloutSpec

    repo = Path(__file__).resolve().parents[2]
    cfg = load_yaml_model(repo / "configs" / "loop.yaml", ControlLoopConfig)
    spec = RolloutSpec.model_validate({**cfg.rollout, "candidate_version": "7"})
    assert spec.shadow is not None and spec.shadow.then_canary and spec.canary is not None


def test_a_failing_retrain_consumes_cooldown_and_budget(tmp_path: Path) -> None:
    """Three ticks that all see decay, with a retrain that raises: one attempt, then the cooldown holds."""
    import pandas as pd

    report = {
        "schema_version": "1.0",
        "window": {"rows": 2_000, "labelled_rows": 2_000},
        "summary": {"share_drifted": 0.0, "dataset_drift": False, "drifted_features": []},
        "performance": {"metric": "accuracy", "baseline": 0.9, "current": 0.6, "p_value": 1e-9},
    }

    class Analyst:
        def analyse(self, since: float | None, until: float) -> dict[str, Any]:
            return report

    class Labels:
        def rows(self) -> pd.DataFrame:
            ts = pd.Timestamp("2026-11-29", tz="UTC")
            return pd.DataFrame({"prediction": [0, 1] * 300, "label": [1, 1] * 300, "timestamp": ts})

        def label_column(self) -> str:
            return "y"

    class BrokenJobs:
        attempts = 0

        def retrain(self, *args: Any) -> Any:
            BrokenJobs.attempts += 1
            raise RuntimeError("Ray Train worker group failed to start")

        def reweight(self, *args: Any) -> Any:
            raise AssertionError("not a label shift")

    cfg = load_config(None, workdir=tmp_path)
    loop = ControlLoop(
        cfg, ControlLoopConfig(), FakeRollouts({}), analyst=Analyst(), labels=Labels(), jobs=BrokenJobs()
    )
    results = [loop.tick(NOW + timedelta(minutes=10 * i)) for i in range(3)]
    assert BrokenJobs.attempts == 1
    assert results[0].action == "error" and "worker group" in results[0].reason
    assert all(r.action == "skip" and "cooldown" in r.reason for r in results[1:])
