"""The audit timeline: every event the control loop sees or causes, one entry in the ``timeline`` event stream.

Kept in the state database (:mod:`driftline.core.state_db`); read by ``driftline timeline`` and served in
``GET /rollout``.

>>> import tempfile
>>> tl = Timeline(tempfile.mkdtemp())
>>> _ = tl.append("decision", "retrain: accuracy decayed", evidence={"drop": 0.2})
>>> [e["kind"] for e in tl.read()]
['decision']
"""

from __future__ import annotations

import os
import time
from typing import Any

from driftline.core.state_db import StateDB, state_db_at

__all__ = ["TIMELINE_STREAM", "Timeline"]

TIMELINE_STREAM = "timeline"


class Timeline:
    def __init__(self, db: StateDB | str | os.PathLike[str]) -> None:
        self.db = db if isinstance(db, StateDB) else state_db_at(db)

    def append(self, kind: str, message: str, **fields: Any) -> dict[str, Any]:
        """Record one event; committed to the database before this returns."""
        event = {"time": time.time(), "kind": kind, "message": message, **fields}
        self.db.append(TIMELINE_STREAM, event)
        return event

    def read(self, last: int | None = None) -> list[dict[str, Any]]:
        """The events, oldest first (the newest ``last`` of them when given)."""
        return self.db.events(TIMELINE_STREAM, last=last or None)
