"""What the routers count per variant, and the observation window a step folds in.

Latency is kept as a fixed log-spaced histogram: bins of ratio 1.1 from 0.1 ms to 60 s (plus an underflow
and an overflow bin, 142 counts), additive across replicas and ticks. A quantile is read as the geometric
middle of its bin, so it is within ``sqrt(1.1) - 1 = 4.9%`` of the true sample quantile for values inside
the range (values >= 60 s read as 60 s). Exact sums and sums of squares ride along for means and variances.

>>> h = LatencyHistogram.from_samples([0.010] * 99 + [0.200])
>>> abs(h.quantile(0.5) / 0.010 - 1) < 0.049, abs(h.quantile(0.995) / 0.200 - 1) < 0.049
(True, True)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from driftline.core.errors import RolloutError

__all__ = ["LatencyHistogram", "Observation", "VariantCounters", "latency_bin"]


LATENCY_MIN_S = 1e-4
LATENCY_MAX_S = 60.0
LATENCY_RATIO = 1.1
_N_INNER = math.ceil(math.log(LATENCY_MAX_S / LATENCY_MIN_S) / math.log(LATENCY_RATIO))
LATENCY_EDGES: tuple[float, ...] = tuple(LATENCY_MIN_S * LATENCY_RATIO**i for i in range(_N_INNER + 1))
N_LATENCY_BINS = _N_INNER + 2  # underflow, inner bins, overflow


def latency_bin(seconds: float) -> int:
    """Histogram bin of a latency in seconds (0 = below 0.1 ms, last = at or above the top edge)."""
    if not seconds >= LATENCY_MIN_S:  # also catches NaN
        return 0
    return min(N_LATENCY_BINS - 1, int(math.log(seconds / LATENCY_MIN_S) / math.log(LATENCY_RATIO)) + 1)


def _bin_value(index: int) -> float:
    if index == 0:
        return LATENCY_EDGES[0]
    if index >= N_LATENCY_BINS - 1:
        return LATENCY_EDGES[-1]
    return math.sqrt(LATENCY_EDGES[index - 1] * LATENCY_EDGES[index])


@dataclass(frozen=True)
class LatencyHistogram:
    """Counts per fixed latency bin (see the module docstring for the bins and their error)."""

    counts: tuple[int, ...] = (0,) * N_LATENCY_BINS

    def __post_init__(self) -> None:
        if len(self.counts) != N_LATENCY_BINS or any(c < 0 for c in self.counts):
            raise RolloutError(
                f"A latency histogram needs {N_LATENCY_BINS} non-negative counts, got {len(self.counts)}.",
                "Build it with LatencyHistogram.from_samples or latency_bin().",
            )

    @classmethod
    def from_samples(cls, seconds: Iterable[float]) -> LatencyHistogram:
        counts = [0] * N_LATENCY_BINS
        for s in seconds:
            counts[latency_bin(s)] += 1
        return cls(tuple(counts))

    @property
    def total(self) -> int:
        return sum(self.counts)

    def __add__(self, other: LatencyHistogram) -> LatencyHistogram:
        return LatencyHistogram(tuple(a + b for a, b in zip(self.counts, other.counts, strict=True)))

    def quantile(self, q: float) -> float:
        """Nearest-rank quantile read at its bin's geometric middle; NaN when empty."""
        total = self.total
        if total == 0:
            return math.nan
        rank, seen = max(1, math.ceil(q * total)), 0
        for index, count in enumerate(self.counts):
            seen += count
            if seen >= rank:
                return _bin_value(index)
        return _bin_value(N_LATENCY_BINS - 1)


@dataclass(frozen=True)
class VariantCounters:
    """Additive per-variant counters: requests, errors, labels, agreement with the champion, latency; for a regression
    model the labels count absolute errors (``scored``, their sum and sum of squares) instead of right answers."""

    requests: int = 0
    errors: int = 0
    labelled: int = 0
    correct: int = 0
    compared: int = 0  # shadow calls whose prediction was compared with the champion's
    agreed: int = 0
    latency_sum: float = 0.0
    latency_sq_sum: float = 0.0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    scored: int = 0  # regression: labels scored by absolute error
    abs_error_sum: float = 0.0
    abs_error_sq_sum: float = 0.0

    def __post_init__(self) -> None:
        ints = (self.requests, self.errors, self.labelled, self.correct, self.compared, self.agreed)
        if any(v < 0 for v in (*ints, self.scored)) or self.errors > self.requests or self.correct > self.labelled:
            raise RolloutError(
                f"Inconsistent counters {self.to_dict(with_latency=False)}.",
                "Counts must be >= 0, errors <= requests, correct <= labelled, agreed <= compared.",
            )
        if self.agreed > self.compared:
            raise RolloutError(f"agreed={self.agreed} > compared={self.compared}.", "agreed must be <= compared.")

    @classmethod
    def from_samples(
        cls,
        latencies: Iterable[float],
        *,
        errors: int = 0,
        labelled: int = 0,
        correct: int = 0,
        compared: int = 0,
        agreed: int = 0,
        abs_errors: Iterable[float] = (),
    ) -> VariantCounters:
        """Counters for one window from its latencies (one per request), counts and absolute errors (regression)."""
        lat = [float(x) for x in latencies]
        errs = [float(x) for x in abs_errors]
        return cls(
            requests=len(lat),
            errors=errors,
            labelled=labelled,
            correct=correct,
            compared=compared,
            agreed=agreed,
            latency_sum=sum(lat),
            latency_sq_sum=sum(x * x for x in lat),
            latency=LatencyHistogram.from_samples(lat),
            scored=len(errs),
            abs_error_sum=sum(errs),
            abs_error_sq_sum=sum(x * x for x in errs),
        )

    def __add__(self, other: VariantCounters) -> VariantCounters:
        return VariantCounters(
            *(getattr(self, f.name) + getattr(other, f.name) for f in fields(self))  # type: ignore[arg-type]
        )

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else math.nan

    @property
    def accuracy(self) -> float:
        return self.correct / self.labelled if self.labelled else math.nan

    @property
    def mae(self) -> float:
        """Mean absolute error of the scored (regression) labels; NaN without any."""
        return self.abs_error_sum / self.scored if self.scored else math.nan

    @property
    def abs_error_var(self) -> float:
        """Unbiased variance of the absolute errors (clipped at 0 against rounding)."""
        n = self.scored
        if n < 2:
            return math.nan
        return max(0.0, (self.abs_error_sq_sum - self.abs_error_sum**2 / n) / (n - 1))

    @property
    def agreement(self) -> float:
        return self.agreed / self.compared if self.compared else math.nan

    @property
    def latency_n(self) -> int:
        return self.latency.total

    @property
    def latency_mean(self) -> float:
        return self.latency_sum / self.latency_n if self.latency_n else math.nan

    @property
    def latency_var(self) -> float:
        """Unbiased variance from the sums (clipped at 0 against rounding)."""
        n = self.latency_n
        if n < 2:
            return math.nan
        return max(0.0, (self.latency_sq_sum - self.latency_sum**2 / n) / (n - 1))

    @property
    def p99(self) -> float:
        return self.latency.quantile(0.99)

    def to_dict(self, with_latency: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "latency"}
        if with_latency:
            out["latency"] = list(self.latency.counts)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VariantCounters:
        data = dict(data)
        return cls(**{**data, "latency": LatencyHistogram(tuple(data.get("latency") or (0,) * N_LATENCY_BINS))})


@dataclass(frozen=True)
class Observation:
    """What the routers saw since the previous tick (a window, not totals), per variant, and the time.

    In shadow mode ``candidate`` holds the shadow calls. ``now`` is Unix seconds; ``step`` never reads a clock.
    """

    now: float
    champion: VariantCounters = field(default_factory=VariantCounters)
    candidate: VariantCounters = field(default_factory=VariantCounters)
