"""A clock for decisions: Unix seconds that never jump, whatever the wall clock does.

Elapsed time is measured on the monotonic clock; the wall clock only anchors it once, at start, and never below a
floor (the newest time already persisted), so a restart cannot move time backwards. A 5 s step back of the system
clock or a 1 h step forward changes nothing here; wall time is for display.

>>> wall, mono = [1000.0], [50.0]
>>> clock = MonotonicClock(floor=0.0, wall=lambda: wall[0], monotonic=lambda: mono[0])
>>> wall[0], mono[0] = 4600.0, 51.0   # the wall clock jumps an hour, one real second passes
>>> clock.now()
1001.0
>>> MonotonicClock(floor=2000.0, wall=lambda: 1000.0, monotonic=lambda: 0.0).now()  # never before the floor
2000.0
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["MonotonicClock"]


class MonotonicClock:
    """``now()``: the wall time at construction (at least ``floor``) plus monotonic seconds since."""

    def __init__(
        self,
        floor: float = 0.0,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        self._base = max(wall(), floor)
        self._started = monotonic()

    def now(self) -> float:
        return self._base + (self._monotonic() - self._started)
