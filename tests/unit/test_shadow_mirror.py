"""The shadow mirror with fakes: bounded in flight (skips, never queues), timeouts counted against the candidate."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from driftline.serve_apps.shadow import ShadowMirror
from driftline.serve_apps.window import TrafficWindow


@dataclass
class Answer:
    predictions: list[int]


class FakeMetrics:
    def __init__(self) -> None:
        self.skipped = 0
        self.observed: list[tuple[str, str, bool]] = []

    def shadow_skipped(self) -> None:
        self.skipped += 1

    def observe(self, variant: str, role: str, latency: float, error: bool = False) -> None:
        self.observed.append((variant, role, error))


def test_calls_beyond_the_in_flight_cap_are_skipped_not_queued() -> None:
    async def scenario() -> tuple[FakeMetrics, list[Any], TrafficWindow]:
        release = asyncio.Event()
        metrics, logged, window = FakeMetrics(), [], TrafficWindow()
        mirror = ShadowMirror(5.0, 2, window, metrics, lambda *args: logged.append(args))  # type: ignore[arg-type]

        async def slow_candidate(rows: list[dict[str, Any]]) -> Answer:
            await release.wait()
            return Answer([1] * len(rows))

        for _ in range(5):
            mirror.start(slow_candidate, [{"x": 1.0}], "r", Answer([1]))
        assert mirror.in_flight == 2 and metrics.skipped == 3  # two mirrored, three skipped at once
        release.set()
        await asyncio.sleep(0.05)
        assert mirror.in_flight == 0
        return metrics, logged, window

    metrics, logged, window = asyncio.run(scenario())
    assert len(logged) == 2 and [o for o in metrics.observed if o[2]] == []
    counters = window.drain()["candidate"]
    assert counters["requests"] == 2 and counters["compared"] == 2 and counters["agreed"] == 2


def test_a_slow_candidate_times_out_and_counts_as_its_error() -> None:
    async def scenario() -> tuple[FakeMetrics, TrafficWindow]:
        metrics, window = FakeMetrics(), TrafficWindow()
        mirror = ShadowMirror(0.05, 8, window, metrics, lambda *args: None)  # type: ignore[arg-type]

        async def hung(rows: list[dict[str, Any]]) -> Answer:
            await asyncio.sleep(10)
            return Answer([0])

        mirror.start(hung, [{"x": 1.0}], "r", Answer([1]))
        await asyncio.sleep(0.3)
        return metrics, window

    metrics, window = asyncio.run(scenario())
    assert metrics.observed == [("candidate", "shadow", True)]
    assert window.drain()["candidate"]["errors"] == 1
