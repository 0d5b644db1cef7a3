"""Rollout state persisted outside any actor: the ``rollout`` document of the state database, plus its audit log.

One writer (the controller), many readers (every router replica). The state lives in
:class:`~driftline.core.state_db.StateDB` (SQLite in WAL mode under ``<workdir>/state`` by default, Postgres on
a cluster). Each save is a compare-and-swap: ``revision`` grows by one per save, across rollouts too, and a write
based on an older revision than the stored one is refused (a second writer, or an abort that raced a tick). The
new transitions go to the ``transitions`` event stream in the same transaction, an audit log that survives the
next rollout replacing the state.

>>> import tempfile
>>> from driftline.rollout.machine import start
>>> from driftline.rollout.spec import RolloutSpec
>>> store = RolloutStore(tempfile.mkdtemp())
>>> saved = store.save(start(RolloutSpec(mode="ab", candidate_version="4"), now=0.0))
>>> saved.revision, store.load() == saved, len(store.transitions())
(1, True, 1)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from driftline.core.errors import RolloutError
from driftline.core.paths import state_dir
from driftline.core.state_db import StaleWrite, StateDB, state_db_at
from driftline.rollout.spec import RolloutSpec
from driftline.rollout.state import RolloutState, Transition

__all__ = ["CORRUPT_DOCUMENT", "DOCUMENT", "TRANSITIONS", "RolloutStore", "state_from_dict"]

DOCUMENT = "rollout"
CORRUPT_DOCUMENT = "rollout.corrupt"
TRANSITIONS = "transitions"


def state_from_dict(data: Mapping[str, Any]) -> RolloutState:
    """A stored state (the JSON form of :meth:`RolloutState.to_dict`), its spec validated."""
    return RolloutState.from_dict({**data, "spec": RolloutSpec.model_validate(data["spec"])})


class RolloutStore:
    """Load/save the current :class:`RolloutState` in a :class:`StateDB` (or the SQLite one in a state folder)."""

    def __init__(self, db: StateDB | str | os.PathLike[str]) -> None:
        self.db = db if isinstance(db, StateDB) else state_db_at(db)

    @classmethod
    def for_workdir(cls, workdir: str | os.PathLike[str]) -> RolloutStore:
        return cls(state_dir(Path(workdir)))

    def load(self) -> RolloutState | None:
        """The stored state, or None when no rollout was ever saved."""
        doc = self.db.get(DOCUMENT)
        if doc is None:
            return None
        try:
            return state_from_dict(doc.body).evolve(revision=doc.revision)
        except (ValueError, KeyError, TypeError) as exc:
            raise RolloutError(
                f"Rollout state in {self.db.url} is unreadable: {exc}.",
                "Restore it from the transitions log or delete it to start over (traffic falls back to the champion).",
            ) from None

    def save(self, state: RolloutState) -> RolloutState:
        """Persist ``state`` with ``revision = stored revision + 1`` and return it; refuses stale writes."""
        current = self.load()
        stored = current.revision if current is not None else 0
        same_rollout = current is not None and current.rollout_id == state.rollout_id
        if same_rollout and stored != state.revision:
            raise self._stale(state, stored)
        saved = state.evolve(revision=stored + 1)
        already = len(current.history) if current is not None and same_rollout else 0
        events = [
            (TRANSITIONS, {"rollout_id": saved.rollout_id, "revision": saved.revision, **t.to_dict()})
            for t in saved.history[already:]
        ]
        try:
            self.db.put(DOCUMENT, saved.to_dict(), expected_revision=stored, events=events)
        except StaleWrite:  # another writer saved between our read and our write
            latest = self.db.get(DOCUMENT)
            raise self._stale(state, latest.revision if latest else 0) from None
        return saved

    @staticmethod
    def _stale(state: RolloutState, stored: int) -> RolloutError:
        return RolloutError(
            f"Stale write to rollout {state.rollout_id}: stored revision is {stored}, this state was "
            f"read at revision {state.revision}.",
            "Only one controller may write the rollout state; reload it and apply the operation again.",
        )

    def quarantine(self) -> str:
        """Move an unreadable state aside (kept for a post-mortem) so the controller can start clean."""
        doc = self.db.get(DOCUMENT)
        if doc is not None:
            kept = self.db.get(CORRUPT_DOCUMENT)
            self.db.put(CORRUPT_DOCUMENT, doc.body, expected_revision=kept.revision if kept else 0)
            self.db.delete(DOCUMENT)
        return f"{self.db.url}#{CORRUPT_DOCUMENT}"

    def transitions(self) -> list[Transition]:
        """Every transition ever saved, oldest first, across rollouts."""
        return [Transition.from_dict(e) for e in self.db.events(TRANSITIONS)]
