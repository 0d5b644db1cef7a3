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
>>> db.put("rollout", {"phase": "aborted"}, expected_revision=1)
2
>>> [e["to"] for e in db.events("transitions")]
['canary']

Every model keeps its state apart: :meth:`StateDB.for_model` is a view whose names are the model's own, so one
database (one Postgres for a cluster) serves many models, and a rollout of one never touches another's:

>>> churn = db.for_model("churn")
>>> churn.get("rollout") is None, churn.put("rollout", {"phase": "shadow"}, expected_revision=0)
(True, 1)
>>> db.get("rollout").body, db.get("m/churn/rollout").body
({'phase': 'aborted'}, {'phase': 'shadow'})
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
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

from driftline.core.config import MODEL_NAME_PATTERN, DriftlineConfig
from driftline.core.errors import DriftlineError

__all__ = [
    "STATE_DB_FILE",
    "Document",
    "StaleWrite",
    "StateDB",
    "StateStoreError",
    "model_state",
    "sqlite_url",
    "state_db_at",
]

STATE_DB_FILE = "driftline.db"
_UNSCOPED_DOCUMENTS = ("rollout", "rollout.corrupt", "serving", "loop")  # written before state was per model
_UNSCOPED_STREAMS = ("transitions", "timeline")
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
        self.prefix = ""  # the model's own names start with it (see for_model)
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

    def for_model(self, model: str) -> StateDB:
        """A view of this database in which every document and stream is ``model``'s own (``m/<model>/<name>``)."""
        if not re.match(MODEL_NAME_PATTERN, model):
            raise StateStoreError(
                f"Model name {model!r} cannot name state: it must be 1-48 letters, digits, '_', '.' or '-', starting "
                "with a letter or digit.",
                "Rename the model in the config (mlflow.model_name, or serve.models[].registered_model).",
            )
        view = copy.copy(self)
        view.prefix = f"m/{model}/"
        return view

    def adopt_unscoped(self) -> bool:
        """Move the state written before it was per model (``rollout``, ``serving``, ``loop``, ``transitions``,
        ``timeline``) under this view's model, once, in one transaction; True when there was something to move.
        Only when this model has no state of its own yet: an app that served one model keeps its rollout."""
        if not self.prefix:
            return False
        with self._engine.begin() as conn:
            own = conn.execute(select(_documents.c.name).where(_documents.c.name.startswith(self.prefix))).first()
            old = conn.execute(select(_documents.c.name).where(_documents.c.name.in_(_UNSCOPED_DOCUMENTS))).first()
            if own is not None or old is None:
                return False
            for name in _UNSCOPED_DOCUMENTS:
                conn.execute(update(_documents).where(_documents.c.name == name).values(name=self.prefix + name))
            for stream in _UNSCOPED_STREAMS:
                conn.execute(update(_events).where(_events.c.stream == stream).values(stream=self.prefix + stream))
        return True

    def get(self, name: str) -> Document | None:
        """The document's revision and body, or None when it was never written."""
        name = self.prefix + name
        with self._connect() as conn:
            row = conn.execute(
                select(_documents.c.revision, _documents.c.body).where(_documents.c.name == name)
            ).first()
        return None if row is None else Document(int(row.revision), json.loads(row.body))

    def get_many(self, names: list[str]) -> dict[str, Document]:
        """The documents of ``names`` that exist, in one query (names as this view sees them)."""
        wanted = {self.prefix + name: name for name in names}
        with self._connect() as conn:
            rows = conn.execute(
                select(_documents.c.name, _documents.c.revision, _documents.c.body).where(
                    _documents.c.name.in_(list(wanted))
                )
            ).all()
        return {wanted[row.name]: Document(int(row.revision), json.loads(row.body)) for row in rows}

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
        name = self.prefix + name
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
        stream = self.prefix + stream
        query = select(_events.c.body).where(_events.c.stream == stream).order_by(_events.c.id.desc())
        if last:
            query = query.limit(last)
        with self._connect() as conn:
            bodies = [row.body for row in conn.execute(query)]
        return [json.loads(b) for b in reversed(bodies)]

    def count(self, stream: str) -> int:
        stream = self.prefix + stream
        with self._connect() as conn:
            return int(conn.execute(select(func.count()).where(_events.c.stream == stream)).scalar_one())

    def delete(self, name: str) -> None:
        name = self.prefix + name
        with self._engine.begin() as conn:
            conn.execute(_documents.delete().where(_documents.c.name == name))

    # -- internals -----------------------------------------------------------------------------------------

    def _connect(self) -> Any:
        try:
            return self._engine.connect()
        except OperationalError as exc:
            raise self._unavailable(exc) from None

    def _append(self, conn: Any, events: Iterable[tuple[str, Mapping[str, Any]]], now: float) -> None:
        rows = [
            {"stream": self.prefix + s, "body": json.dumps(dict(b), separators=(",", ":"), default=str), "at": now}
            for s, b in events
        ]
        if rows:
            conn.execute(insert(_events), rows)

    def _stale_message(self, conn: Any, name: str, expected: int) -> str:
        """``name`` is the stored (prefixed) name."""
        if conn is None:
            current = self.get(name.removeprefix(self.prefix))
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


def model_state(cfg: DriftlineConfig) -> StateDB:
    """The state of ``cfg``'s model (``mlflow.model_name``) in its state database (``cfg.state_url``)."""
    return StateDB(cfg.state_url).for_model(cfg.mlflow.model_name)
