"""The control loop's persisted state: typed, committed in the state database, and never fatal when unreadable.

The ``loop`` document holds the policy's memory, the end of the last analysed window, the tick count and how many
transitions of each rollout the loop has already put on the timeline (so a restart repeats none).

>>> from datetime import datetime, timezone
>>> state = LoopState(PolicyState.start(datetime(2026, 1, 1, tzinfo=timezone.utc)), last_until=12.5, ticks=3)
>>> LoopState.from_dict(state.to_dict()) == state
True
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from driftline.core.state_db import StateDB, state_db_at
from driftline.platform.policy import PolicyState

__all__ = ["LOOP_DOCUMENT", "LoopState", "LoopStateStore"]

LOOP_DOCUMENT = "loop"


def _policy_to_json(state: PolicyState) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(state):
        value = getattr(state, f.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = [v.isoformat() for v in value]
        out[f.name] = value
    return out


def _policy_from_json(data: dict[str, Any]) -> PolicyState:
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "retrain_times":
            values[key] = tuple(datetime.fromisoformat(v) for v in value)
        elif isinstance(value, str):
            values[key] = datetime.fromisoformat(value)
        else:
            values[key] = value
    return PolicyState(**values)


@dataclass
class LoopState:
    policy: PolicyState
    last_until: float | None = None  # Unix seconds: the end of the last analysed window
    ticks: int = 0
    seen: dict[str, int] = field(default_factory=dict)  # rollout id -> transitions already on the timeline

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": 1,
            "policy": _policy_to_json(self.policy),
            "last_until": self.last_until,
            "ticks": self.ticks,
            "seen": dict(self.seen),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoopState:
        return cls(
            policy=_policy_from_json(dict(data["policy"])),
            last_until=None if data.get("last_until") is None else float(data["last_until"]),
            ticks=int(data.get("ticks", 0)),
            seen={str(k): int(v) for k, v in (data.get("seen") or {}).items()},
        )


class LoopStateStore:
    """Load and save :class:`LoopState`; an unreadable document reads as None plus a reason."""

    def __init__(self, db: StateDB | str | os.PathLike[str]) -> None:
        self.db = db if isinstance(db, StateDB) else state_db_at(db)

    def load(self) -> tuple[LoopState | None, str | None]:
        """(state, None), (None, None) when there is none yet, or (None, why) when it is unreadable."""
        doc = self.db.get(LOOP_DOCUMENT)
        if doc is None:
            return None, None
        try:
            return LoopState.from_dict(doc.body), None
        except (ValueError, KeyError, TypeError) as exc:
            return None, f"the loop state in {self.db.url} is unreadable ({type(exc).__name__}: {exc}); starting fresh"

    def save(self, state: LoopState) -> None:
        current = self.db.get(LOOP_DOCUMENT)
        self.db.put(LOOP_DOCUMENT, state.to_dict(), expected_revision=current.revision if current else 0)
