"""Per-variant counters a router accumulates between pushes to the controller (requests, errors, latency, labels).

>>> window = TrafficWindow()
>>> window.record("champion", latency_s=0.01)
>>> window.drain()["champion"]["requests"]
1
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from driftline.rollout.counters import VariantCounters

__all__ = ["TrafficWindow"]


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    labelled: int = 0
    correct: int = 0
    abs_errors: list[float] = field(default_factory=list)
    compared: int = 0
    agreed: int = 0

    def counters(self) -> VariantCounters:
        return VariantCounters.from_samples(
            self.latencies,
            errors=self.errors,
            labelled=self.labelled,
            correct=self.correct,
            abs_errors=self.abs_errors,
            compared=self.compared,
            agreed=self.agreed,
        )


class TrafficWindow:
    """Not thread-safe by design: one router replica's event loop owns it."""

    def __init__(self) -> None:
        self._tallies: dict[str, _Tally] = defaultdict(_Tally)

    def record(self, variant: str, latency_s: float, error: bool = False, compared: int = 0, agreed: int = 0) -> None:
        tally = self._tallies[variant]
        tally.latencies.append(latency_s)
        tally.errors += int(error)
        tally.compared += compared
        tally.agreed += agreed

    def label(self, variant: str, correct: bool, abs_error: float | None = None) -> None:
        """A label for one of ``variant``'s answers: right or wrong, or (regression) its absolute error."""
        tally = self._tallies[variant]
        if abs_error is not None:
            tally.abs_errors.append(abs_error)
            return
        tally.labelled += 1
        tally.correct += int(correct)

    def empty(self) -> bool:
        return not self._tallies

    def drain(self) -> dict[str, dict[str, Any]]:
        """The window as ``VariantCounters`` dicts (what the controller's ``observe`` takes); resets it."""
        tallies, self._tallies = self._tallies, defaultdict(_Tally)
        return {variant: tally.counters().to_dict() for variant, tally in tallies.items()}
