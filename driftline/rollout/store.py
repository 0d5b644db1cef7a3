"""Rollout state persisted outside any actor: ``<workdir>/state/rollout.json`` plus ``transitions.jsonl``.

One writer (the controller), many readers (every router replica). Writes are atomic (temp file in the same
folder, fsync, ``os.replace``), so a reader sees the old or the new state, never half of one. Each save bumps
``revision`` by one, across rollouts too, and refuses a stale write (a state whose revision is not the stored
one), which catches a second writer. Every new transition is also appended to ``transitions.jsonl``, an audit
log that survives the next rollout replacing the state. File access goes through
:class:`~driftline.core.fs.FileSystem`, so an
fsspec / pyarrow filesystem (e.g. S3) can be plugged in.

>>> import tempfile
>>> from driftline.rollout.machine import start
>>> from driftline.rollout.spec import RolloutSpec
>>> store = RolloutStore(tempfile.mkdtemp())
>>> saved = store.save(start(RolloutSpec(mode="ab", candidate_version="4"), now=0.0))
>>> saved.revision, store.load() == saved, len(store.transitions())
(1, True, 1)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from driftline.core.errors import RolloutError
from driftline.core.fs import FileSystem, LocalFileSystem
from driftline.core.paths import state_dir
from driftline.rollout.spec import RolloutSpec
from driftline.rollout.state import RolloutState, Transition

__all__ = ["STATE_FILE", "TRANSITIONS_FILE", "RolloutStore", "state_from_dict"]

STATE_FILE = "rollout.json"
TRANSITIONS_FILE = "transitions.jsonl"


def state_from_dict(data: Mapping[str, Any]) -> RolloutState:
    """A stored state (the JSON form of :meth:`RolloutState.to_dict`), its spec validated."""
    return RolloutState.from_dict({**data, "spec": RolloutSpec.model_validate(data["spec"])})


class RolloutStore:
    """Load/save the current :class:`RolloutState` in ``root`` (usually ``<workdir>/state``)."""

    def __init__(self, root: str | os.PathLike[str], fs: FileSystem | None = None) -> None:
        self.root = os.fspath(root).rstrip("/") or "/"
        self.fs: FileSystem = fs or LocalFileSystem()
        self.fs.makedirs(self.root)

    @classmethod
    def for_workdir(cls, workdir: str | os.PathLike[str], fs: FileSystem | None = None) -> RolloutStore:
        return cls(state_dir(Path(workdir)).as_posix(), fs)

    @property
    def state_path(self) -> str:
        return f"{self.root}/{STATE_FILE}"

    @property
    def transitions_path(self) -> str:
        return f"{self.root}/{TRANSITIONS_FILE}"

    def load(self) -> RolloutState | None:
        """The stored state, or None when no rollout was ever saved."""
        text = self.fs.read_text(self.state_path)
        if text is None:
            return None
        try:
            return state_from_dict(json.loads(text))
        except (ValueError, KeyError, TypeError) as exc:
            raise RolloutError(
                f"Rollout state {self.state_path} is unreadable: {exc}.",
                "Restore it from transitions.jsonl or delete it to start over (traffic falls back to the champion).",
            ) from None

    def save(self, state: RolloutState) -> RolloutState:
        """Persist ``state`` with ``revision = stored revision + 1`` and return it; refuses stale writes."""
        current = self.load()
        if current is not None and current.rollout_id == state.rollout_id and current.revision != state.revision:
            raise RolloutError(
                f"Stale write to rollout {state.rollout_id}: stored revision is {current.revision}, this state was "
                f"read at revision {state.revision}.",
                "Only one controller may write the rollout state; reload it and apply the operation again.",
            )
        saved = state.evolve(revision=(current.revision if current else 0) + 1)
        already = len(current.history) if current is not None and current.rollout_id == state.rollout_id else 0
        new_transitions = saved.history[already:]
        self.fs.write_text_atomic(self.state_path, json.dumps(saved.to_dict(), separators=(",", ":")))
        if new_transitions:
            lines = "".join(
                json.dumps({"rollout_id": saved.rollout_id, "revision": saved.revision, **t.to_dict()}) + "\n"
                for t in new_transitions
            )
            self.fs.append_text(self.transitions_path, lines)
        return saved

    def quarantine(self) -> str:
        """Move an unreadable state file aside (kept for a post-mortem) so the controller can start clean."""
        text = self.fs.read_text(self.state_path) or ""
        moved = f"{self.state_path}.corrupt"
        self.fs.write_text_atomic(moved, text)
        self.fs.remove(self.state_path)
        return moved

    def transitions(self) -> list[Transition]:
        """Every transition ever saved, oldest first, across rollouts."""
        text = self.fs.read_text(self.transitions_path) or ""
        out = []
        for line in text.splitlines():
            try:
                out.append(Transition.from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line (crash mid-append): the audit keeps every whole one
        return out
