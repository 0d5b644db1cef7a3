"""The one sink of a model's outcomes in a router replica: each answer, failure and label is counted once here,
and goes both to the rollout's counters (drained to the controller) and to the metrics.

>>> outcomes = Outcomes("churn")
>>> outcomes.answered(Variant.CHAMPION, Role.SERVED, "3", latency_s=0.01)
>>> outcomes.drain()["champion"]["requests"]
1
"""

from __future__ import annotations

from typing import Any, Protocol

from driftline.core.records import Role, Variant
from driftline.serve_apps.window import TrafficWindow

__all__ = ["Metrics", "Outcomes"]


class Metrics(Protocol):
    """What the sink reports to (``RouterMetrics`` in a replica)."""

    def observe(
        self, model: str, version: str, variant: str, role: str, latency_s: float, error: bool = False
    ) -> None: ...

    def shadow_skipped(self, model: str) -> None: ...


class _NoMetrics:
    def observe(self, *args: Any, **kwargs: Any) -> None:
        return None

    def shadow_skipped(self, model: str) -> None:
        return None


class Outcomes:
    """Not thread-safe by design: one router replica's event loop owns it."""

    def __init__(self, model: str, metrics: Metrics | None = None) -> None:
        self.model = model
        self._metrics: Metrics = metrics or _NoMetrics()
        self._window = TrafficWindow()

    def answered(
        self,
        variant: Variant,
        role: Role,
        version: str | None,
        latency_s: float,
        error: bool = False,
        compared: int = 0,
        agreed: int = 0,
    ) -> None:
        """One model call: answered, or failed (``error``: an exception, a timeout, a non-finite answer)."""
        self._window.record(variant, latency_s, error=error, compared=compared, agreed=agreed)
        self._metrics.observe(self.model, version or "", variant, role, latency_s, error=error)

    def labelled(self, variant: Variant, correct: bool, abs_error: float | None = None) -> None:
        self._window.label(variant, correct, abs_error)

    def shadow_skipped(self) -> None:
        self._metrics.shadow_skipped(self.model)

    def empty(self) -> bool:
        return self._window.empty()

    def drain(self) -> dict[str, dict[str, Any]]:
        """The counters since the last drain (what the controller's ``observe`` takes); resets them."""
        return self._window.drain()
