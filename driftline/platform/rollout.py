"""The rollout's vocabulary: phases and their transition table, counters, observations, state and decisions.

The logic lives in :mod:`driftline.platform.rollout_machine` (pure ``step``/``start``/``promote``/``abort``),
persistence in :mod:`~driftline.platform.rollout_store`, side effects in
:mod:`~driftline.platform.rollout_controller`.

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
from dataclasses import dataclass, field, fields, replace
from enum import Enum
from typing import Any

from driftline.platform.errors import RolloutError
from driftline.platform.rollout_spec import RolloutSpec

__all__ = [
    "TERMINAL_PHASES",
    "TRANSITIONS",
    "Action",
    "Decision",
    "LatencyHistogram",
    "Observation",
    "Phase",
    "RolloutState",
    "Transition",
    "VariantCounters",
    "latency_bin",
]


class Phase(str, Enum):
    PENDING = "PENDING"
    SHADOW = "SHADOW"
    AB_TEST = "AB_TEST"
    CANARY = "CANARY"
    PROMOTED = "PROMOTED"
    ROLLED_BACK = "ROLLED_BACK"


# CANARY -> CANARY is a step advance or a counted failed check; both are recorded with their evidence.
TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.PENDING: frozenset({Phase.SHADOW, Phase.CANARY, Phase.AB_TEST, Phase.ROLLED_BACK}),
    Phase.SHADOW: frozenset({Phase.CANARY, Phase.PROMOTED, Phase.ROLLED_BACK}),
    Phase.CANARY: frozenset({Phase.CANARY, Phase.PROMOTED, Phase.ROLLED_BACK}),
    Phase.AB_TEST: frozenset({Phase.PROMOTED, Phase.ROLLED_BACK}),
    Phase.PROMOTED: frozenset(),
    Phase.ROLLED_BACK: frozenset(),
}
TERMINAL_PHASES: frozenset[Phase] = frozenset(p for p, nxt in TRANSITIONS.items() if not nxt)


class Action(str, Enum):
    HOLD = "HOLD"
    ADVANCE = "ADVANCE"
    PROMOTE = "PROMOTE"
    ROLLBACK = "ROLLBACK"


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
    """Additive per-variant counters: requests, errors, labels, agreement with the champion, latency."""

    requests: int = 0
    errors: int = 0
    labelled: int = 0
    correct: int = 0
    compared: int = 0  # shadow calls whose prediction was compared with the champion's
    agreed: int = 0
    latency_sum: float = 0.0
    latency_sq_sum: float = 0.0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    def __post_init__(self) -> None:
        ints = (self.requests, self.errors, self.labelled, self.correct, self.compared, self.agreed)
        if any(v < 0 for v in ints) or self.errors > self.requests or self.correct > self.labelled:
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
    ) -> VariantCounters:
        """Counters for one window from its latencies (one per request) and counts."""
        lat = [float(x) for x in latencies]
        return cls(
            len(lat),
            errors,
            labelled,
            correct,
            compared,
            agreed,
            sum(lat),
            sum(x * x for x in lat),
            LatencyHistogram.from_samples(lat),
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


@dataclass(frozen=True)
class Transition:
    time: float
    from_phase: Phase
    to_phase: Phase
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "from": self.from_phase.value,
            "to": self.to_phase.value,
            "reason": self.reason,
            "evidence": self.evidence,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transition:
        return cls(
            float(data["time"]),
            Phase(data["from"]),
            Phase(data["to"]),
            str(data["reason"]),
            dict(data.get("evidence") or {}),
        )


@dataclass(frozen=True)
class RolloutState:
    """Everything needed to resume a rollout after a restart. Counters cover the current step (canary) or
    phase (shadow, A/B); ``*_total`` cover the whole phase; ``p_value`` is the running mSPRT p-value."""

    rollout_id: str
    phase: Phase
    spec: RolloutSpec
    started_at: float
    step_started_at: float
    step_index: int = 0
    candidate_weight: float = 0.0
    shadow_fraction: float = 0.0
    champion: VariantCounters = field(default_factory=VariantCounters)
    candidate: VariantCounters = field(default_factory=VariantCounters)
    champion_total: VariantCounters = field(default_factory=VariantCounters)
    candidate_total: VariantCounters = field(default_factory=VariantCounters)
    failed_checks: int = 0
    p_value: float = 1.0
    history: tuple[Transition, ...] = ()
    revision: int = 0

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL_PHASES

    def evolve(self, **changes: Any) -> RolloutState:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema": 1}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, VariantCounters):
                value = value.to_dict()
            elif isinstance(value, Phase):
                value = value.value
            elif f.name == "spec":
                value = value.model_dump(mode="json")
            elif f.name == "history":
                value = [t.to_dict() for t in value]
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RolloutState:
        data = dict(data)
        if data.pop("schema", 1) != 1:
            raise RolloutError("Rollout state has an unknown schema version.", "Upgrade driftline to read it.")
        counters = ("champion", "candidate", "champion_total", "candidate_total")
        for name in counters:
            data[name] = VariantCounters.from_dict(data.get(name) or {})
        data["phase"] = Phase(data["phase"])
        data["spec"] = RolloutSpec.model_validate(data["spec"])
        data["history"] = tuple(Transition.from_dict(t) for t in data.get("history") or ())
        return cls(**data)


@dataclass(frozen=True)
class Decision:
    """What ``step`` decided: the action, the state to persist, why, and the numbers behind it."""

    action: Action
    state: RolloutState
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)
