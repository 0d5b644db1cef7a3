"""The shadow mirror with fakes: bounded in flight (skips, never queues), timeouts counted against the candidate."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from driftline.serve_apps.outcomes import Outcomes
from driftline.serve_apps.shadow import ShadowMirror


@dataclass
class Answer:
    predictions: list[int]


class FakeMetrics:
    def __init__(self) -> None:
        self.skipped = 0
        self.observed: list[tuple[str, str, str, str, bool]] = []

    def shadow_skipped(self, model: str) -> None:
        self.skipped += 1

    def observe(self, model: str, version: str, variant: str, role: str, latency_s: float, error: bool = False) -> None:
        self.observed.append((model, version, variant, role, error))


def test_calls_beyond_the_in_flight_cap_are_skipped_not_queued() -> None:
    async def scenario() -> tuple[FakeMetrics, list[Any], Outcomes]:
        release = asyncio.Event()
        metrics, logged = FakeMetrics(), []
        outcomes = Outcomes("m", metrics)
        mirror = ShadowMirror(5.0, 2, outcomes)

        async def slow_candidate(rows: list[dict[str, Any]]) -> Answer:
            await release.wait()
            return Answer([1] * len(rows))

        for _ in range(5):
            mirror.start(slow_candidate, "4", [{"x": 1.0}], "r", Answer([1]), lambda *args: logged.append(args))
        assert mirror.in_flight == 2 and metrics.skipped == 3  # two mirrored, three skipped at once
        release.set()
        await asyncio.sleep(0.05)
        assert mirror.in_flight == 0
        return metrics, logged, outcomes

    metrics, logged, outcomes = asyncio.run(scenario())
    assert len(logged) == 2 and [o for o in metrics.observed if o[4]] == []
    assert metrics.observed == [("m", "4", "candidate", "shadow", False)] * 2
    counters = outcomes.drain()["candidate"]
    assert counters["requests"] == 2 and counters["compared"] == 2 and counters["agreed"] == 2


def test_a_hung_candidate_times_out_and_counts_as_an_error() -> None:
    async def scenario() -> tuple[FakeMetrics, Outcomes]:
        metrics = FakeMetrics()
        outcomes = Outcomes("m", metrics)
        mirror = ShadowMirror(0.1, 4, outcomes)

        async def hung(rows: list[dict[str, Any]]) -> Answer:
            await asyncio.sleep(10)
            return Answer([0])

        mirror.start(hung, "4", [{"x": 1.0}], "r", Answer([1]), lambda *args: None)
        await asyncio.sleep(0.3)
        return metrics, outcomes

    metrics, outcomes = asyncio.run(scenario())
    assert metrics.observed == [("m", "4", "candidate", "shadow", True)]
    assert outcomes.drain()["candidate"]["errors"] == 1
