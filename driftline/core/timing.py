"""Named phase durations on a monotonic clock: where a job's seconds went, kept with its outcome.

>>> t = PhaseTimer()
>>> with t.phase("load"):
...     pass
>>> t.add("train", 1.5)
>>> sorted(t.seconds), t.seconds["train"]
(['load', 'train'], 1.5)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["PhaseTimer"]


class PhaseTimer:
    """Seconds per phase name; a phase timed twice adds up. ``seconds`` keeps the order phases first ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + max(float(seconds), 0.0)

    def update(self, other: dict[str, float]) -> None:
        for name, seconds in other.items():
            self.add(name, seconds)
