"""ADWIN, ADaptive WINdowing (Bifet and Gavaldà, SDM 2007), in its memory-bounded ADWIN2 form.

ADWIN keeps a window ``W`` of the most recent values and drops its oldest part whenever some split
``W = W0 · W1`` (``W0`` older) has means further apart than

    eps_cut = sqrt(2/m · var(W) · ln(2/delta')) + 2/(3m) · ln(2/delta'),   1/m = 1/|W0| + 1/|W1|,
    delta'  = delta / ln|W|

(the paper's Bernstein-style bound with the window variance). The window is stored as an exponential histogram:
row ``i`` holds up to ``max_buckets`` buckets of ``2**i`` values each, summarised by their sum and their sum of
squared deviations, and two buckets merge when a row overflows. So memory is ``O(max_buckets · log W)``, a check
looks at ``O(max_buckets · log W)`` split points (bucket borders only, never every value), and checks run every
``clock`` values. The window is always a suffix of the stream, so ``estimation`` is the mean of the last ``width``
values exactly.

>>> det = ADWIN()
>>> stream = [0.0] * 500 + [1.0] * 500
>>> first = next(i for i, x in enumerate(stream) if det.update(x).drift_detected)
>>> 500 < first < 600, det.width < 100
(True, True)
"""

from __future__ import annotations

import math
from collections import deque

from driftline.core.errors import ConfigError
from driftline.monitors.detectors.base import DriftDetector

__all__ = ["ADWIN"]


class ADWIN(DriftDetector):
    """Adaptive windowing change detector for the mean of a real-valued stream (values in [0, 1] for the bound).

    Args:
        delta: confidence; a false cut in a stationary window has probability at most ``delta`` per check.
        clock: check for a cut every ``clock`` values (32 as in MOA/River: checking every value costs 32x more and
            finds the change at most 31 values sooner).
        max_buckets: buckets kept per size before merging (the paper's M); larger is finer splits, more memory.
        min_window_length: smallest ``|W0|`` and ``|W1|`` a split may have.
        grace_period: values before the first check.
    """

    def __init__(
        self,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ) -> None:
        if not 0 < delta < 1:
            raise ConfigError("ADWIN", "delta", delta, "a number in (0, 1)")
        for name, value, low in (
            ("clock", clock, 1),
            ("max_buckets", max_buckets, 2),
            ("min_window_length", min_window_length, 1),
            ("grace_period", grace_period, 1),
        ):
            if int(value) != value or value < low:
                raise ConfigError("ADWIN", name, value, f"an integer >= {low}")
        self.delta = float(delta)
        self.clock = int(clock)
        self.max_buckets = int(max_buckets)
        self.min_window_length = int(min_window_length)
        self.grace_period = int(grace_period)
        super().__init__()

    def _reset_statistics(self) -> None:
        # _rows[i] holds buckets of 2**i values as (sum, sum of squared deviations); left end is the oldest.
        self._rows: list[deque[tuple[float, float]]] = []
        self._width = 0
        self._total = 0.0
        self._m2 = 0.0
        self._tick = 0

    # -- read-only views ---------------------------------------------------------------------------------------
    @property
    def width(self) -> int:
        """Values in the current window."""
        return self._width

    @property
    def estimation(self) -> float:
        """Mean of the current window (nan when empty)."""
        return self._total / self._width if self._width else math.nan

    @property
    def variance(self) -> float:
        """Population variance of the current window (nan when empty)."""
        return self._m2 / self._width if self._width else math.nan

    @property
    def n_buckets(self) -> int:
        """Buckets stored: the memory footprint, ``O(max_buckets · log2(width))``."""
        return sum(len(row) for row in self._rows)

    @property
    def buckets(self) -> list[tuple[int, float]]:
        """``(size, sum)`` of every bucket, oldest first."""
        return [(1 << i, total) for i in range(len(self._rows) - 1, -1, -1) for total, _ in self._rows[i]]

    # -- the algorithm -----------------------------------------------------------------------------------------
    def _step(self, x: float) -> bool:
        self._insert(x)
        self._tick += 1
        if self._tick % self.clock or self._width <= self.grace_period:
            return False
        detected = False
        while self._width > 2 * self.min_window_length and self._has_cut():
            self._drop_oldest()
            detected = True
        return detected

    def _insert(self, x: float) -> None:
        if self._width:  # Welford: adding x to n values with mean mu adds n/(n+1) (x - mu)^2 to the squared sum
            mu = self._total / self._width
            self._m2 += self._width * (x - mu) ** 2 / (self._width + 1)
        self._width += 1
        self._total += x
        if not self._rows:
            self._rows.append(deque())
        self._rows[0].append((x, 0.0))
        size = 1
        for i in range(len(self._rows)):
            row = self._rows[i]
            if len(row) <= self.max_buckets:
                break
            (u1, v1), (u2, v2) = row.popleft(), row.popleft()
            merged = (u1 + u2, v1 + v2 + size * size * (u1 / size - u2 / size) ** 2 / (2 * size))
            if i + 1 == len(self._rows):
                self._rows.append(deque())
            self._rows[i + 1].append(merged)  # newer than everything already in the next row
            size *= 2

    def _drop_oldest(self) -> None:
        size = 1 << (len(self._rows) - 1)
        u, v = self._rows[-1].popleft()
        while self._rows and not self._rows[-1]:
            self._rows.pop()
        self._width -= size
        self._total -= u
        if self._width:
            mu_rest = self._total / self._width
            self._m2 -= v + size * self._width * (u / size - mu_rest) ** 2 / (size + self._width)
            self._m2 = max(self._m2, 0.0)  # guard against rounding below zero
        else:
            self._total, self._m2 = 0.0, 0.0

    def _has_cut(self) -> bool:
        """True if some split at a bucket border has sub-window means further apart than ``eps_cut``."""
        variance = self._m2 / self._width
        log_term = math.log(2.0 * math.log(self._width) / self.delta)
        n0, u0 = 0, 0.0
        for i in range(len(self._rows) - 1, -1, -1):
            size = 1 << i
            for total, _ in self._rows[i]:
                n0 += size
                u0 += total
                n1 = self._width - n0
                if n1 < self.min_window_length:
                    return False
                if n0 < self.min_window_length:
                    continue
                m_recip = 1.0 / n0 + 1.0 / n1
                eps = math.sqrt(2.0 * m_recip * variance * log_term) + 2.0 / 3.0 * m_recip * log_term
                if abs(u0 / n0 - (self._total - u0) / n1) > eps:
                    return True
        return False
