"""driftline's state in one transactional store: SQLite (WAL) under the work folder, or Postgres by URL.

Two tables. ``documents`` holds the current value of each named piece of state (``rollout``, ``serving``,
``loop``) with a ``revision``; :meth:`StateDB.put` is a compare-and-swap on that revision, so of two writers that
read the same revision exactly one wins and the other gets :class:`StaleWrite`. ``events`` is an append-only log
per stream (``transitions``, ``timeline``); a put can append events in the same transaction, so a state and the
audit lines that explain it are committed together or not at all.

The default URL is ``sqlite:///<workdir>/state/driftline.db``; ``state.url`` in the config or
``$DRIFTLINE_STATE_URL`` points every process at a shared server instead, e.g.
``postgresql+psycopg://driftline@db:5432/driftline``.

>>> import tempfile
>>> db = StateDB(f"sqlite:///{tempfile.mkdtemp()}/state.db")
>>> db.put("rollout", {"phase": "canary"}, expected_revision=0, events=[("transitions", {"to": "canary"})])
1
>>> db.get("rollout")
Document(revision=1, body={'phase': 'canary'})
>>> db.put("rollout", {"phase": "aborted"}, expected_revision=0)
Traceback (most recent call last):
...
driftline.core.state_db.StaleWrite: 'rollout' is at revision 1, the write expected revision 0.
>>> [e["to"] for e in db.events("transitions")]
['canary']
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError
from sqlalchemy.pool import NullPool

from driftline.core.errors import DriftlineError

__all__ = ["STATE_DB_FILE", "Document", "StaleWrite", "StateDB", "StateStoreError", "sqlite_url", "state_db_at"]

STATE_DB_FILE = "driftline.db"
_log = logging.getLogger(__name__)

_metadata = MetaData()
_documents = Table(
    "driftline_documents",
    _metadata,
    Column("name", String(64), primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)
_events = Table(
    "driftline_events",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("stream", String(64), nullable=False, index=True),
    Column("body", Text, nullable=False),
    Column("at", Float, nullable=False),
)


class StaleWrite(DriftlineError):
    """Another writer changed the document since this one read it."""


class StateStoreError(DriftlineError):
    """The state database cannot be reached or written."""


@dataclass(frozen=True)
class Document:
    revision: int
    body: dict[str, Any]


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path)}"


def state_db_at(folder: str | os.PathLike[str]) -> StateDB:
    """The default SQLite state database in a state folder (``<folder>/driftline.db``)."""
    return StateDB(sqlite_url(Path(folder) / STATE_DB_FILE))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, nor it them
    cursor.execute("PRAGMA synchronous=FULL")  # a commit is on disk before it returns
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _engine(url: str) -> Engine:
    """One engine per URL per process (its pool is shared by every store in the process)."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _sqlite_engine(url) if url.startswith("sqlite") else _server_engine(url)
            _engines[url] = engine
        return engine


def _server_engine(url: str) -> Engine:
    connect_args = {"connect_timeout": 5} if url.startswith("postgresql") else {}  # a dead host fails fast
    engine = create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=4, connect_args=connect_args)
    _metadata.create_all(engine)
    return engine


def _sqlite_engine(url: str) -> Engine:
    """A SQLite engine; a file that is not a database (overwritten, truncated) is moved aside, never fatal."""
    path = Path(url.split("///", 1)[-1])
    path.parent.mkdir(parents=True, exist_ok=True)
    # NullPool: a connection per transaction, so a forked process never shares a SQLite handle.
    engine = create_engine(url, poolclass=NullPool)
    event.listen(engine, "connect", _sqlite_pragmas)
    try:
        _metadata.create_all(engine)
    except DatabaseError as exc:
        if "not a database" not in str(exc) and "malformed" not in str(exc):
            raise
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(f"{path}{suffix}")
            if src.exists():
                src.replace(Path(f"{aside}{suffix}"))
        _log.error("state database %s was unreadable (%s); moved to %s and started empty", path, exc.orig, aside)
        _metadata.create_all(engine)
    return engine


class StateDB:
    """Named documents with compare-and-swap revisions, plus append-only event streams."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self._engine = _engine(url)
        except OperationalError as exc:
            raise StateStoreError(
                f"Cannot open the state database {self._safe_url()}: {exc.orig}.",
                "Check state.url (or $DRIFTLINE_STATE_URL): the server must be running and the user allowed in.",
            ) from None

    def _safe_url(self) -> str:
        head, _, tail = self.url.rpartition("@")
        return f"{head.split('://')[0]}://***@{tail}" if head else self.url

    def get(self, name: str) -> Document | None:
        """The document's revision and body, or None when it was never written."""
        with self._connect() as conn:
            row = conn.execute(
                select(_documents.c.revision, _documents.c.body).where(_documents.c.name == name)
            ).first()
        return None if row is None else Document(int(row.revision), json.loads(row.body))

    def put(
        self,
        name: str,
        body: Mapping[str, Any],
        *,
        expected_revision: int,
        events: Iterable[tuple[str, Mapping[str, Any]]] = (),
    ) -> int:
        """Write ``body`` if the stored revision is ``expected_revision`` (0: not yet written); the new revision.

        ``events`` are appended in the same transaction. Raises :class:`StaleWrite` when another writer won.
        """
        text = json.dumps(dict(body), separators=(",", ":"), default=str)
        now = time.time()
        try:
            with self._engine.begin() as conn:
                if expected_revision == 0:
                    conn.execute(insert(_documents).values(name=name, revision=1, body=text, updated_at=now))
                else:
                    done = conn.execute(
                        update(_documents)
                        .where(_documents.c.name == name, _documents.c.revision == expected_revision)
                        .values(revision=expected_revision + 1, body=text, updated_at=now)
                    )
                    if done.rowcount != 1:
                        raise StaleWrite(self._stale_message(conn, name, expected_revision))
                self._append(conn, events, now)
        except IntegrityError:  # the insert of a first revision lost to another writer's
            raise StaleWrite(self._stale_message(None, name, expected_revision)) from None
        except OperationalError as exc:
            raise self._unavailable(exc) from None
        return expected_revision + 1

    def append(self, stream: str, body: Mapping[str, Any]) -> None:
        """Append one event to ``stream``, committed before this returns."""
        try:
            with self._engine.begin() as conn:
                self._append(conn, [(stream, body)], time.time())
        except OperationalError as exc:
            raise self._unavailable(exc) from None

    def events(self, stream: str, last: int | None = None) -> list[dict[str, Any]]:
        """The stream's events, oldest first (the newest ``last`` of them when given)."""
        query = select(_events.c.body).where(_events.c.stream == stream).order_by(_events.c.id.desc())
        if last:
            query = query.limit(last)
        with self._connect() as conn:
            bodies = [row.body for row in conn.execute(query)]
        return [json.loads(b) for b in reversed(bodies)]

    def count(self, stream: str) -> int:
        with self._connect() as conn:
            return int(conn.execute(select(func.count()).where(_events.c.stream == stream)).scalar_one())

    def delete(self, name: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(_documents.delete().where(_documents.c.name == name))

    # -- internals -----------------------------------------------------------------------------------------

    def _connect(self) -> Any:
        try:
            return self._engine.connect()
        except OperationalError as exc:
            raise self._unavailable(exc) from None

    @staticmethod
    def _append(conn: Any, events: Iterable[tuple[str, Mapping[str, Any]]], now: float) -> None:
        rows = [
            {"stream": s, "body": json.dumps(dict(b), separators=(",", ":"), default=str), "at": now} for s, b in events
        ]
        if rows:
            conn.execute(insert(_events), rows)

    def _stale_message(self, conn: Any, name: str, expected: int) -> str:
        if conn is None:
            current = self.get(name)
        else:
            row = conn.execute(select(_documents.c.revision).where(_documents.c.name == name)).first()
            current = None if row is None else Document(int(row.revision), {})
        stored = 0 if current is None else current.revision
        return f"{name!r} is at revision {stored}, the write expected revision {expected}."

    def _unavailable(self, exc: OperationalError) -> StateStoreError:
        return StateStoreError(
            f"The state database {self._safe_url()} refused the operation: {exc.orig}.",
            "Check that the database server is up (or that the disk under the work folder has room) and retry.",
        )
