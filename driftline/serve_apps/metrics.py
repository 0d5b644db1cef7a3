"""Prediction metrics through ``ray.serve.metrics`` (exported by Ray's Prometheus endpoint as ``ray_driftline_*``),
tagged with the model, its version, the variant and the role. Series stay bounded: a replica serves a fixed set of
models, each with at most its champion and candidate (plus the versions it served before since its start)."""

from __future__ import annotations

__all__ = ["RouterMetrics"]

_BOUNDARIES_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
_KEYS = ("model", "version", "variant", "role")


class RouterMetrics:
    def __init__(self) -> None:
        from ray.serve.metrics import Counter, Histogram

        self._requests = Counter("driftline_requests", description="Predictions by model and variant.", tag_keys=_KEYS)
        self._errors = Counter("driftline_errors", description="Failed predictions by model, variant.", tag_keys=_KEYS)
        self._skipped = Counter(
            "driftline_shadow_skipped", description="Shadow calls skipped at the in-flight cap.", tag_keys=("model",)
        )
        self._latency = Histogram(
            "driftline_latency_ms",
            description="Model call latency by model, version, variant and role.",
            boundaries=_BOUNDARIES_MS,
            tag_keys=_KEYS,
        )

    def observe(self, model: str, version: str, variant: str, role: str, latency_s: float, error: bool = False) -> None:
        tags = {"model": model, "version": version, "variant": variant, "role": role}
        self._requests.inc(tags=tags)
        if error:
            self._errors.inc(tags=tags)
        self._latency.observe(latency_s * 1000.0, tags=tags)

    def shadow_skipped(self, model: str) -> None:
        self._skipped.inc(tags={"model": model})
