"""The Ray Serve application: router ingress, two model slots, prediction log writer, rollout controller."""

from __future__ import annotations

from driftline.serve_apps.assignment import DEFAULT_BUCKETS, assign_variant, bucket, shadow_selected
from driftline.serve_apps.feedback import FeedbackStatus
from driftline.serve_apps.payload import PayloadError, parse_payload
from driftline.serve_apps.prediction_log import FEEDBACK, PREDICTIONS, ParquetSink
from driftline.serve_apps.serving_state import ServingState, ServingStateStore

__all__ = [
    "DEFAULT_BUCKETS",
    "FEEDBACK",
    "PREDICTIONS",
    "FeedbackStatus",
    "ParquetSink",
    "PayloadError",
    "ServingState",
    "ServingStateStore",
    "app_builder",
    "assign_variant",
    "bucket",
    "build_app",
    "deploy",
    "parse_payload",
    "shadow_selected",
    "shutdown",
]


def __getattr__(name: str) -> object:
    # The app builder imports ray.serve; keep `import driftline.serve_apps` light for pure code and unit tests.
    if name in ("app_builder", "build_app", "deploy", "shutdown"):
        from driftline.serve_apps import app

        return getattr(app, name)
    raise AttributeError(f"module 'driftline.serve_apps' has no attribute {name!r}")
