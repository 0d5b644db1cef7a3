"""RolloutController with in-memory fakes: save, publish traffic and move aliases in the right cases."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from driftline.core.errors import RolloutError
from driftline.rollout.controller import RolloutController
from driftline.rollout.counters import Observation, VariantCounters
from driftline.rollout.phases import Action, Phase
from driftline.rollout.spec import RolloutSpec
from driftline.rollout.store import RolloutStore
from driftline.rollout.traffic import TrafficConfig, TrafficMode

SPEC = RolloutSpec(
    mode="canary",
    candidate_version="4",
    canary={"steps": [0.2, 1.0], "min_requests_per_step": 50, "min_seconds_per_step": 0, "max_failed_checks": 0},
)


class FakePublisher:
    def __init__(self) -> None:
        self.configs: list[TrafficConfig] = []

    def publish(self, config: TrafficConfig) -> None:
        self.configs.append(config)


class FakeAliases:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.reasons: list[str] = []

    def promote(self, candidate_version: str, reason: str = "") -> None:
        self.calls.append(("promote", candidate_version))
        self.reasons.append(reason)

    def rollback(self) -> None:
        self.calls.append(("rollback",))


def make(tmp_path: Path) -> tuple[RolloutController, FakePublisher, FakeAliases]:
    pub, aliases = FakePublisher(), FakeAliases()
    return RolloutController(RolloutStore(tmp_path), pub, aliases, champion_version=lambda: "3"), pub, aliases


def ok(n: int) -> VariantCounters:
    return VariantCounters.from_samples([0.01] * n)


def test_canary_to_promotion(tmp_path: Path) -> None:
    ctl, pub, aliases = make(tmp_path)
    ctl.start(SPEC, now=0.0)
    assert pub.configs[-1].mode is TrafficMode.CANARY and pub.configs[-1].candidate_weight == 0.2

    d = ctl.tick(Observation(1.0, ok(100), ok(10)))
    assert d.action is Action.HOLD and len(pub.configs) == 1  # nothing published on hold
    assert ctl.status().revision == 2  # but the counters were saved
    d = ctl.tick(Observation(2.0, ok(200), ok(50)))
    assert d.action is Action.ADVANCE and pub.configs[-1].candidate_weight == 1.0
    assert pub.configs[-1].revision == d.state.revision == 3
    d = ctl.tick(Observation(3.0, ok(0), ok(60)))
    assert d.action is Action.PROMOTE and aliases.calls == [("promote", "4")]
    assert aliases.reasons == ["canary passed every step"]  # the alias move carries the decision's reason
    assert (pub.configs[-1].champion_version, pub.configs[-1].mode) == ("4", TrafficMode.NONE)

    # Finished: further ticks change nothing.
    d = ctl.tick(Observation(4.0, ok(10), ok(10)))
    assert d.action is Action.HOLD and ctl.status().revision == 4 and aliases.calls == [("promote", "4")]


def test_failing_canary_rolls_back_and_publishes_champion_only(tmp_path: Path) -> None:
    ctl, pub, aliases = make(tmp_path)
    ctl.start(SPEC, now=0.0)
    d = ctl.tick(Observation(1.0, ok(400), VariantCounters.from_samples([0.01] * 100, errors=20)))
    assert d.action is Action.ROLLBACK and aliases.calls == [("rollback",)]
    assert (pub.configs[-1].champion_version, pub.configs[-1].mode, pub.configs[-1].candidate_weight) == (
        "3",
        TrafficMode.NONE,
        0.0,
    )


def test_manual_operations_and_guards(tmp_path: Path) -> None:
    ctl, _pub, aliases = make(tmp_path)
    with pytest.raises(RolloutError, match="No rollout has been started"):
        ctl.tick(Observation(1.0))
    ctl.start(SPEC, now=0.0)
    with pytest.raises(RolloutError, match="still in phase CANARY"):
        ctl.start(SPEC, now=1.0)
    assert ctl.abort(now=2.0, reason="operator said so").state.phase is Phase.ROLLED_BACK
    with pytest.raises(RolloutError, match="Cannot promote"):
        ctl.promote(now=3.0)
    assert ctl.start(SPEC, now=4.0).phase is Phase.CANARY  # a new rollout after the old one finished
    assert ctl.promote(now=5.0).action is Action.PROMOTE
    assert aliases.calls == [("rollback",), ("promote", "4")]


def test_restart_resumes_and_reconcile_reapplies(tmp_path: Path) -> None:
    ctl, _, _ = make(tmp_path)
    ctl.start(SPEC, now=0.0)
    ctl.tick(Observation(1.0, ok(100), ok(30)))
    restarted, pub, aliases = make(tmp_path)
    state = restarted.reconcile()
    assert state is not None and state.candidate.requests == 30
    assert pub.configs[-1].candidate_weight == 0.2 and aliases.calls == []
    d = restarted.tick(Observation(2.0, ok(100), ok(30)))
    assert d.action is Action.ADVANCE  # 30 + 30 >= 50 requests: the counters survived the restart


def test_an_abort_racing_the_tick_thread_is_never_undone(tmp_path: Path) -> None:
    """100 races of a manual abort against a thread that keeps stepping a canary: the abort always stands."""
    import threading

    spec = RolloutSpec(
        mode="canary",
        candidate_version="4",
        canary={"steps": [0.1, 0.5, 1.0], "min_requests_per_step": 1, "min_seconds_per_step": 0},
    )
    for i in range(100):
        ctl, _, aliases = make(tmp_path / str(i))
        ctl.start(spec, now=0.0)
        stop = threading.Event()

        def ticking(ctl: RolloutController = ctl, stop: threading.Event = stop) -> None:
            now = 1.0
            while not stop.is_set():
                ctl.tick(Observation(now, ok(20), ok(5)))  # every tick passes the step: the ramp advances
                now += 1.0

        thread = threading.Thread(target=ticking)
        thread.start()
        try:
            # RolloutError: the ramp finished first, so it was promoted before the abort arrived (a legal outcome)
            with contextlib.suppress(RolloutError):
                ctl.abort(now=0.5)
        finally:
            stop.set()
            thread.join()
        final = ctl.status()
        assert final is not None and final.phase in (Phase.ROLLED_BACK, Phase.PROMOTED)
        if final.phase is Phase.ROLLED_BACK:
            assert final.history[-1].reason == "manual abort" and final.candidate_weight == 0.0
            assert ("rollback",) in aliases.calls and ("promote", "4") not in aliases.calls
        assert [t.to_phase for t in final.history].count(final.phase) == 1  # no resurrection, no second end


def test_an_alias_that_fails_at_promotion_is_moved_at_a_later_tick(tmp_path: Path) -> None:
    class FlakyAliases(FakeAliases):
        down = True

        def promote(self, candidate_version: str, reason: str = "") -> None:
            if self.down:
                raise ConnectionError("MLflow is down")
            super().promote(candidate_version, reason)

    pub, aliases = FakePublisher(), FlakyAliases()
    ctl = RolloutController(RolloutStore(tmp_path), pub, aliases, champion_version=lambda: "3")
    ctl.start(SPEC, now=0.0)
    ctl.tick(Observation(1.0, ok(200), ok(60)))
    decision = ctl.tick(Observation(2.0, ok(200), ok(60)))
    assert decision.action is Action.PROMOTE and decision.state.phase is Phase.PROMOTED
    assert pub.configs[-1].champion_version == "4"  # traffic switched, alias not yet
    assert "MLflow is down" in (ctl.effect_error or "") and aliases.calls == []
    assert ctl.reconcile_pending() is False  # still down: pending
    aliases.down = False
    assert ctl.reconcile_pending() is True and aliases.calls == [("promote", "4")]
    assert ctl.reconcile_pending() is True and aliases.calls == [("promote", "4")]  # applied once, then idle
