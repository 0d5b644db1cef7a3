"""Prediction records for tests of the log writer: one request's answer, as a router builds it."""

from __future__ import annotations

from typing import Any

from driftline.core.records import PredictionRecord, Role, Variant


def answer(
    request_id: str,
    rows: int = 1,
    when: float = 1767225600.0,
    role: str = "served",
    variant: str | None = None,
    prediction: Any = 1,
    version: str = "1",
    features: dict[str, Any] | None = None,
) -> PredictionRecord:
    """``rows`` rows of one request answered alike; the variant follows the role unless given."""
    variant = variant or ("champion" if role == "served" else "candidate")
    return PredictionRecord(
        request_id,
        "",
        when,
        "m",
        version,
        Variant(variant),
        Role(role),
        [dict(features or {"x0": 0.5}) for _ in range(rows)],
        [prediction] * rows,
        [[0.2, 0.8]] * rows,
        1.0,
    )
