"""The audit timeline: every event the control loop sees or causes, appended as one JSON line.

``<workdir>/state/timeline.jsonl``; read by ``driftline timeline`` and served in ``GET /rollout``.

>>> import tempfile
>>> tl = Timeline(tempfile.mkdtemp())
>>> _ = tl.append("decision", "retrain: accuracy decayed", evidence={"drop": 0.2})
>>> [e["kind"] for e in tl.read()]
['decision']
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

__all__ = ["TIMELINE_FILE", "Timeline"]

TIMELINE_FILE = "timeline.jsonl"


class Timeline:
    def __init__(self, state_dir: str | Path) -> None:
        self.path = Path(state_dir) / TIMELINE_FILE
        self.skipped = 0  # unreadable lines seen by the last read

    def append(self, kind: str, message: str, **fields: Any) -> dict[str, Any]:
        event = {"time": time.time(), "kind": kind, "message": message, **fields}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(event, default=str) + "\n")
        return event

    def read(self, last: int | None = None) -> list[dict[str, Any]]:
        """The events, oldest first; a torn or corrupt line (a crash mid-append) is skipped and counted."""
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        events, self.skipped = [], 0
        for line in lines[-last:] if last else lines:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                self.skipped += 1
                continue
            if isinstance(event, dict):
                events.append(event)
            else:
                self.skipped += 1
        return events
