"""What a request does to one served model, with fake model handles (no Ray): routing, fallbacks, counting,
logging, mirroring, labels, and the schema following a promotion. The same code runs in both placements."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from driftline.core.config import ServeConfig
from driftline.core.records import Variant
from driftline.datasets import SYNTHETIC_SCHEMA
from driftline.rollout.traffic import TrafficConfig, TrafficMode
from driftline.serve_apps.assignment import Route, route
from driftline.serve_apps.feedback import parse_feedback
from driftline.serve_apps.log_buffer import LogBuffer
from driftline.serve_apps.model_host import ModelNotReady, Prediction
from driftline.serve_apps.outcomes import Outcomes
from driftline.serve_apps.placement import RemotePlacement
from driftline.serve_apps.served_model import ChampionFailed, ServedModel
from driftline.serve_apps.serving_state import ServingState

ROWS = [{"x": 1.0}, {"x": 2.0}]


class FakeSlot:
    """A slot deployment's handle: ``predict.remote`` and ``info.remote`` as coroutines; ``behaviour`` is "ok",
    "fail", "hang" or "not_ready"."""

    def __init__(self, version: str, classes: tuple[Any, ...] = (0, 1), behaviour: str = "ok") -> None:
        self.version, self.classes, self.behaviour = version, classes, behaviour
        self.calls: list[str] = []
        self.predict = SimpleNamespace(remote=self._predict)
        self.info = SimpleNamespace(remote=self._info)

    def options(self, **_: Any) -> FakeSlot:
        return self

    async def _predict(self, rows: list[dict[str, Any]], version: str) -> Prediction:
        self.calls.append("predict")
        if self.behaviour == "fail":
            raise RuntimeError("boom")
        if self.behaviour == "hang":
            await asyncio.sleep(10)
        if self.behaviour == "not_ready" or version != self.version:
            raise ModelNotReady(f"holds {self.version}, not {version}")
        return Prediction([1] * len(rows), [[0.3, 0.7]] * len(rows), self.version)

    async def _info(self) -> dict[str, Any]:
        self.calls.append("info")
        return {"version": self.version, "schema": replace(SYNTHETIC_SCHEMA, classes=self.classes).to_dict()}


class FakeMetrics:
    def __init__(self) -> None:
        self.observed: list[tuple[str, str, str, str, bool]] = []

    def observe(self, model: str, version: str, variant: str, role: str, latency: float, error: bool = False) -> None:
        self.observed.append((model, version, variant, role, error))

    def shadow_skipped(self, model: str) -> None:
        return None


def _served(champion: FakeSlot, candidate: FakeSlot, traffic: TrafficConfig) -> tuple[ServedModel, FakeMetrics]:
    state = ServingState.initial(traffic.champion_version).apply(traffic)
    slots = {state.champion_slot: champion, state.candidate_slot: candidate}
    metrics = FakeMetrics()
    served = ServedModel(
        "churn",
        RemotePlacement(slots["a"], slots["b"]),
        store=None,  # type: ignore[arg-type]  # never read: the state is given
        controller=None,
        log=LogBuffer(writer=None),
        outcomes=Outcomes("churn", metrics),
        settings=ServeConfig(request_timeout_seconds=0.2),
        state=state,
    )
    return served, metrics


def _logged(served: ServedModel) -> list[tuple[str, str, str, int]]:
    return [(r.variant, r.role, r.model_version, len(r)) for r in served._log._records]


CANARY = TrafficConfig("1", "2", TrafficMode.CANARY, candidate_weight=0.5, revision=1)
SHADOW = TrafficConfig("1", "2", TrafficMode.SHADOW, shadow_fraction=1.0, revision=1)


def test_the_route_is_sticky_and_follows_the_mode() -> None:
    assert route(TrafficConfig("1"), "u", "r") == Route(Variant.CHAMPION, False)
    assert route(SHADOW, "u", "r") == Route(Variant.CHAMPION, True)
    everyone = replace(CANARY, candidate_weight=1.0)
    assert route(everyone, "u", "r").variant is Variant.CANDIDATE
    keys = [f"user-{i}" for i in range(400)]
    share = sum(route(CANARY, key, "r").variant is Variant.CANDIDATE for key in keys) / len(keys)
    assert 0.4 < share < 0.6
    assert [route(CANARY, key, "other") for key in keys] == [route(CANARY, key, "r") for key in keys]


def test_a_failing_candidate_counts_against_it_and_the_champion_answers() -> None:
    served, metrics = _served(FakeSlot("1"), FakeSlot("2", behaviour="fail"), CANARY)
    answered = asyncio.run(served.serve(served.state, Route(Variant.CANDIDATE, False), ROWS, "r1", "c1"))  # type: ignore[arg-type]
    assert answered.variant is Variant.CHAMPION and answered.fallback and answered.result.model_version == "1"
    assert metrics.observed == [
        ("churn", "2", "candidate", "served", True),
        ("churn", "1", "champion", "served", False),
    ]
    assert _logged(served) == [("champion", "served", "1", 2)]  # only what the client got is logged as served
    counters = served.outcomes.drain()
    assert counters["candidate"]["errors"] == 1 and counters["champion"]["requests"] == 1


def test_a_candidate_not_loaded_yet_is_not_its_error() -> None:
    served, metrics = _served(FakeSlot("1"), FakeSlot("2", behaviour="not_ready"), CANARY)
    answered = asyncio.run(served.serve(served.state, Route(Variant.CANDIDATE, False), ROWS, "r1", None))  # type: ignore[arg-type]
    assert answered.fallback and [o[2] for o in metrics.observed] == ["champion"]


@pytest.mark.parametrize(("behaviour", "timed_out"), [("fail", False), ("hang", True)])
def test_a_failing_champion_is_counted_and_never_logged(behaviour: str, timed_out: bool) -> None:
    served, metrics = _served(FakeSlot("1", behaviour=behaviour), FakeSlot("2"), CANARY)
    with pytest.raises(ChampionFailed) as failed:
        asyncio.run(served.serve(served.state, Route(Variant.CHAMPION, False), ROWS, "r1", None))  # type: ignore[arg-type]
    assert failed.value.timed_out is timed_out
    assert metrics.observed == [("churn", "1", "champion", "served", True)] and _logged(served) == []


def test_a_shadow_copy_is_compared_and_logged_off_the_users_path() -> None:
    served, metrics = _served(FakeSlot("1"), FakeSlot("2"), SHADOW)

    async def scenario() -> None:
        answered = await served.serve(served.state, Route(Variant.CHAMPION, True), ROWS, "r1", None)  # type: ignore[arg-type]
        assert answered.variant is Variant.CHAMPION
        await asyncio.sleep(0.05)  # the mirrored call finishes in the background

    asyncio.run(scenario())
    assert _logged(served) == [("champion", "served", "1", 2), ("candidate", "shadow", "2", 2)]
    counters = served.outcomes.drain()["candidate"]
    assert counters["compared"] == 2 and counters["agreed"] == 2
    assert ("churn", "2", "candidate", "shadow", False) in metrics.observed


def test_labels_count_only_for_the_version_that_still_holds_its_variant() -> None:
    served, _ = _served(FakeSlot("1"), FakeSlot("2"), CANARY)
    assert served.state is not None
    scored = [
        {"variant": "candidate", "model_version": "2", "correct": True},
        {"variant": "candidate", "model_version": "0", "correct": True},  # an older candidate's answer
        {"variant": "champion", "model_version": "1", "correct": False},
    ]
    served.labelled(served.state, scored, regression=False)
    counters = served.outcomes.drain()
    assert counters["candidate"]["labelled"] == 1 and counters["champion"]["correct"] == 0


def test_a_promotion_to_a_version_with_a_new_class_takes_its_labels_at_once() -> None:
    """Before, the router kept the first champion's schema for its lifetime: after a promotion to a version with a
    new class, that class's labels were refused (``unknown_class``) until a restart."""
    old, new = FakeSlot("1", (0, 1)), FakeSlot("2", (0, 1, 2))
    served, _ = _served(old, new, TrafficConfig("1", "2", TrafficMode.CANARY, candidate_weight=0.1, revision=1))
    before = served.state
    assert before is not None
    after = before.apply(TrafficConfig("2", None, revision=2))  # promoted: the candidate's slot is the champion's

    async def scenario() -> None:
        first = await served.schema(before)
        assert first.classes == (0, 1) and await served.schema(before) is first and old.calls == ["info"]
        promoted = await served.schema(after)
        assert promoted.classes == (0, 1, 2) and new.calls == ["info"]
        items, _ = parse_feedback({"request_id": "r", "label": 2}, promoted.classes)
        assert items[0]["label"] == 2

    asyncio.run(scenario())
