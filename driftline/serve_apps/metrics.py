"""Per-variant request, error and latency metrics through ``ray.serve.metrics`` (exported by Ray's Prometheus
endpoint as ``ray_driftline_*``)."""

from __future__ import annotations

__all__ = ["RouterMetrics"]

_BOUNDARIES_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]


class RouterMetrics:
    def __init__(self) -> None:
        from ray.serve.metrics import Counter, Histogram

        keys = ("variant", "role")
        self._requests = Counter("driftline_requests", description="Predictions by variant and role.", tag_keys=keys)
        self._errors = Counter("driftline_errors", description="Failed predictions by variant and role.", tag_keys=keys)
        self._skipped = Counter("driftline_shadow_skipped", description="Shadow calls skipped at the in-flight cap.")
        self._latency = Histogram(
            "driftline_latency_ms",
            description="Model call latency by variant and role.",
            boundaries=_BOUNDARIES_MS,
            tag_keys=keys,
        )

    def observe(self, variant: str, role: str, latency_s: float, error: bool = False) -> None:
        tags = {"variant": variant, "role": role}
        self._requests.inc(tags=tags)
        if error:
            self._errors.inc(tags=tags)
        self._latency.observe(latency_s * 1000.0, tags=tags)

    def shadow_skipped(self) -> None:
        self._skipped.inc()
