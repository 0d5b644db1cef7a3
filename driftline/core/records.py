"""The prediction-log record, defined once: what every answer leaves behind, with its variant and role.

A :class:`PredictionRecord` is one answered request of one model in one role: the router builds one per answer
(served, or a shadow's), the log writer expands it into the log's rows, one per input row::

    request_id, client_request_id, row, timestamp (UTC), model_name, model_version, variant, role, entity_id,
    source, <the features under their own names>, prediction, probabilities, latency_ms

``entity_id`` is the row's business key (``dataset.id``: an order, a transaction) when the model has one, else null;
``source`` says whether the Serve app answered it (``online``) or ``driftline score`` did (``batch``).

``LOG_COLUMNS`` are the columns that are never features (with the hour partition's and the feedback log's).

>>> record = PredictionRecord("r1", "", 1767225600.0, "churn", "3", Variant.CHAMPION, Role.SERVED,
...                           [{"x": 1.0}, {"x": 2.0}], ["y", "n"], [[0.2, 0.8], [0.9, 0.1]], 4.0)
>>> [(r["row"], r["x"], r["prediction"], r["variant"]) for r in record.rows()]
[(0, 1.0, 'y', 'champion'), (1, 2.0, 'n', 'champion')]
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

__all__ = ["LOG_COLUMNS", "PredictionRecord", "Role", "Source", "Variant"]


class Variant(enum.StrEnum):
    """Which of a model's two versions answered: the champion or the candidate under rollout."""

    CHAMPION = "champion"
    CANDIDATE = "candidate"


class Source(enum.StrEnum):
    """How the prediction was asked for: a request to the Serve app, or a batch job over a table."""

    ONLINE = "online"
    BATCH = "batch"


class Role(enum.StrEnum):
    """Whether the answer went to the client (served) or was a mirrored copy nobody saw (shadow)."""

    SERVED = "served"
    SHADOW = "shadow"


_KEY_COLUMNS = (
    "request_id",
    "client_request_id",
    "row",
    "timestamp",
    "model_name",
    "model_version",
    "variant",
    "role",
    "entity_id",
    "source",
)
_ANSWER_COLUMNS = ("prediction", "probabilities", "latency_ms")
# Columns of the prediction and feedback logs that are never features, whatever their type.
LOG_COLUMNS = frozenset({*_KEY_COLUMNS, *_ANSWER_COLUMNS, "dt", "hour", "label"})


@dataclass(frozen=True)
class PredictionRecord:
    """One answered request: its rows' features and the answers, one entry per row."""

    request_id: str
    client_request_id: str  # "" when the client sent none: one string type in every file
    timestamp: float  # Unix seconds
    model_name: str
    model_version: str
    variant: Variant
    role: Role
    features: list[dict[str, Any]]
    predictions: list[Any]
    probabilities: list[list[float]]  # empty lists for a regression model
    latency_ms: float
    entity_ids: list[str] | None = None  # each row's business key, when the model has one
    source: Source = Source.ONLINE

    def __len__(self) -> int:
        return len(self.features)

    def rows(self) -> list[dict[str, Any]]:
        """The log rows of this answer, in the column order above."""
        ids = {"request_id": self.request_id, "client_request_id": self.client_request_id}
        keys = {
            "timestamp": self.timestamp,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "variant": self.variant.value,
            "role": self.role.value,
        }
        source = self.source.value
        entities: list[str | None] = list(self.entity_ids) if self.entity_ids else [None] * len(self.features)
        return [
            {
                **ids,
                "row": row,
                **keys,
                "entity_id": entity,
                "source": source,
                **features,
                "prediction": prediction,
                "probabilities": probabilities or None,  # a regression model has none
                "latency_ms": self.latency_ms,
            }
            for row, (features, prediction, probabilities, entity) in enumerate(
                zip(self.features, self.predictions, self.probabilities, entities, strict=True)
            )
        ]
