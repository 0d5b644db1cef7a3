"""The label index: every prediction inside the label window, what it answered and whether it is labelled, on disk.

A label is checked, deduplicated and scored against this index, so any prediction of the window can be labelled
however many rows came after it, and the writer's memory does not grow with the request rate or the window's
length: the index is an embedded SQLite file (WAL; a commit survives a SIGKILL of the process) whose page cache is
bounded (``cache_mb``). Answers are kept a request at a time (one index row holds the predictions of a run of
consecutive rows of one request and role, so a 10,000-row batch request costs one insert); labels a row at a time,
keyed ``(request_id, row)``. A model with a business key (``dataset.id``) also has its served rows indexed by
``(model, entity, born)``, so a label by id finds the latest prediction of that entity before the label's time.
The router's time-ordered ids (``request_ids.py``) land at the end of the B-trees, so
inserts stay fast at tens of millions of rows. What is older than the window is pruned in small chunks.

The index is derived state: the Parquet logs and the label journal are the truth. It records which log files it
holds, so a restart indexes only the files written after its last commit (or, with no index, the window's files),
and a corrupt index file is moved aside and rebuilt from the logs, never fatal.

>>> import tempfile
>>> index = LabelIndex(tempfile.mkdtemp())
>>> index.add_answers([IndexedAnswers("r1", "served", 0, 100.0, "m", "champion", "3", ["yes", "no"])], "f1", 0.0)
>>> [(a.variant, a.prediction) for a in index.answers(("r1", 1))]
[('champion', 'no')]
>>> index.add_labels([("r1", 0, 100.0, "no")])
>>> index.label(("r1", 0))
StoredLabel(value='no', logged=False)
>>> index.add_answers([IndexedAnswers("r2", "served", 0, 150.0, "m", "champion", "3", ["no"], ["o-9"])], "f2", 0.0)
>>> index.resolve_many([("m", "o-9", 160.0), ("m", "o-9", 140.0)])
{('m', 'o-9', 160.0): ('r2', 0)}
>>> index.prune(before=200.0)
4
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftline.core.records import Role

__all__ = ["Answer", "EntityAt", "IndexedAnswers", "Key", "LabelIndex", "StoredLabel"]

Key = tuple[str, int]  # (request_id, row)
EntityAt = tuple[str, str, float]  # (model, business key, a time): the latest prediction of the key at that time
ROLES = tuple(Role)  # stored as the position: the order is part of the file format
INDEX_FILE = "labels.sqlite"
_HEX32 = re.compile(r"[0-9a-f]{32}")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    rid NOT NULL, role INTEGER NOT NULL, first_row INTEGER NOT NULL, rows INTEGER NOT NULL, born INTEGER NOT NULL,
    who INTEGER NOT NULL, predictions TEXT NOT NULL, PRIMARY KEY (rid, role, first_row)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS answers_born ON answers (born);
CREATE TABLE IF NOT EXISTS who (
    id INTEGER PRIMARY KEY, model TEXT NOT NULL, variant TEXT NOT NULL, version TEXT NOT NULL,
    UNIQUE (model, variant, version));
CREATE TABLE IF NOT EXISTS labels (
    rid NOT NULL, row INTEGER NOT NULL, born INTEGER NOT NULL, label TEXT NOT NULL, logged INTEGER NOT NULL,
    PRIMARY KEY (rid, row)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS labels_born ON labels (born);
CREATE TABLE IF NOT EXISTS entities (
    model TEXT NOT NULL, entity TEXT NOT NULL, born INTEGER NOT NULL, rid NOT NULL, row INTEGER NOT NULL,
    PRIMARY KEY (model, entity, born, rid, row)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entities_born ON entities (born);
CREATE TABLE IF NOT EXISTS files (name TEXT PRIMARY KEY, hour INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS files_hour ON files (hour);
"""


@dataclass(frozen=True, slots=True)
class IndexedAnswers:
    """The answers one request got in one role for its rows ``first_row, first_row + 1, ...`` (``born``: when,
    Unix seconds)."""

    request_id: str
    role: str
    first_row: int
    born: float
    model: str
    variant: str
    version: str
    predictions: list[Any]
    entities: list[str] | None = None  # the rows' business keys (served rows of a model that has one)


@dataclass(frozen=True)
class Answer:
    """One answer given for a key: served, or mirrored in shadow."""

    role: str
    variant: str
    version: str
    prediction: Any
    born: float
    model: str = ""

    def score(self, label: Any) -> dict[str, Any]:
        """How this answer fared against its label: right or wrong, and for a number (regression) its absolute
        error."""
        scored: dict[str, Any] = {"variant": self.variant, "role": self.role, "model_version": self.version}
        scored["correct"] = self.prediction == label
        number = isinstance(self.prediction, (int, float)) and not isinstance(self.prediction, bool)
        if isinstance(label, float) and number:
            scored["abs_error"] = abs(float(self.prediction) - label)
        return scored


@dataclass(frozen=True)
class StoredLabel:
    """A key's label and whether it is known to be in the Parquet feedback log."""

    value: Any
    logged: bool


def _rid(request_id: str) -> str | bytes:
    """The stored form of a request id: 16 bytes for the router's 32 hex digits, else the string itself."""
    return bytes.fromhex(request_id) if _HEX32.fullmatch(request_id) else request_id


def _encoded(predictions: list[Any], one: dict[tuple[type, Any], str]) -> str:
    """A run's predictions as compact JSON; a one-row run's through the ``one`` cache."""
    if len(predictions) != 1:
        return json.dumps(predictions, separators=(",", ":"))
    value = (type(predictions[0]), predictions[0])
    text = one.get(value)
    if text is None:
        text = one[value] = json.dumps(predictions, separators=(",", ":"))
    return text


def _rows_by_request(keys: Iterable[Key]) -> dict[str, set[int]]:
    wanted: dict[str, set[int]] = {}
    for request_id, row in keys:
        wanted.setdefault(request_id, set()).add(row)
    return wanted


def _millis(seconds: float) -> int:
    return int(seconds * 1000)


class LabelIndex:
    """The index file ``<folder>/labels.sqlite``; thread-safe (one connection behind a lock)."""

    def __init__(self, folder: str | Path, cache_mb: int = 16) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / INDEX_FILE
        self.moved_aside: Path | None = None  # where an unreadable index went, if one did
        self._lock = threading.RLock()
        self._who: dict[tuple[str, str, str], int] = {}
        self._whom: dict[int, tuple[str, str, str]] = {}
        self._recent: dict[tuple[str, int, int], list[Any]] = {}
        try:
            self._db = self._open(cache_mb)
        except sqlite3.DatabaseError:  # not a database (overwritten, truncated): rebuilt from the logs
            self._move_aside()
            self._db = self._open(cache_mb)

    def _open(self, cache_mb: int) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # survives a process kill; the journal covers a power cut
            db.execute(f"PRAGMA cache_size=-{cache_mb * 1024}")
            db.executescript(_SCHEMA)
            db.execute("SELECT COUNT(*) FROM who").fetchone()  # reads the file: not a database fails here
            for wid, model, variant, version in db.execute("SELECT id, model, variant, version FROM who"):
                self._who[(model, variant, version)] = wid
                self._whom[wid] = (model, variant, version)
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _move_aside(self) -> None:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                source.replace(Path(f"{aside}{suffix}"))
        self.moved_aside = aside

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _who_ids(self, keys: set[tuple[str, str, str]]) -> None:
        """Give every (model, variant, version) an id, committed on its own: the cache never names a rolled-back
        row."""
        new = keys - self._who.keys()
        if not new:
            return
        with self._transaction() as db:
            db.executemany("INSERT OR IGNORE INTO who (model, variant, version) VALUES (?, ?, ?)", sorted(new))
            rows = db.execute("SELECT id, model, variant, version FROM who").fetchall()
        for wid, *key in rows:
            self._who[(key[0], key[1], key[2])], self._whom[wid] = wid, (key[0], key[1], key[2])

    # ------------------------------------------------------------------------------------------ predictions
    def add_answers(self, runs: Iterable[IndexedAnswers], file: str | None, hour_start: float) -> None:
        """Index ``runs`` and, in the same transaction, record that log ``file`` (of the hour starting at
        ``hour_start``) is indexed; runs already indexed are kept as they are."""
        runs = list(runs)
        one: dict[tuple[type, Any], str] = {}  # single-row runs repeat a few values: each encoded once
        self._who_ids({(run.model, run.variant, run.version) for run in runs})
        values = [
            (
                _rid(run.request_id),
                ROLES.index(run.role),
                run.first_row,
                len(run.predictions),
                _millis(run.born),
                self._who[(run.model, run.variant, run.version)],
                _encoded(run.predictions, one),
            )
            for run in runs
        ]
        entities = [
            (run.model, entity, _millis(run.born), _rid(run.request_id), run.first_row + offset)
            for run in runs
            if run.entities and run.role == Role.SERVED
            for offset, entity in enumerate(run.entities)
            if entity
        ]
        with self._transaction() as db:
            db.executemany("INSERT OR IGNORE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)", values)
            if entities:
                db.executemany("INSERT OR IGNORE INTO entities VALUES (?, ?, ?, ?, ?)", entities)
            if file is not None:
                db.execute("INSERT OR IGNORE INTO files VALUES (?, ?)", (file, _millis(hour_start)))

    def _by_request(self, columns: str, table: str, request_ids: Iterable[str]) -> list[tuple[Any, ...]]:
        """``(request_id, *columns)`` of every row of ``table`` for these requests, a few hundred ids a query."""
        ids = {_rid(r): r for r in request_ids}
        stored, found = list(ids), []
        with self._lock:
            for start in range(0, len(stored), 500):
                chunk = stored[start : start + 500]
                sql = f"SELECT rid, {columns} FROM {table} WHERE rid IN ({','.join('?' * len(chunk))})"
                found += [(ids[rid], *rest) for rid, *rest in self._db.execute(sql, chunk)]  # ids only as parameters
        return found

    def indexed(self, request_ids: Iterable[str]) -> set[tuple[str, str, int]]:
        """The ``(request_id, role, first_row)`` runs already indexed among these requests."""
        return {
            (rid, ROLES[role], first)
            for rid, role, first in self._by_request("role, first_row", "answers", request_ids)
        }

    def answers(self, key: Key) -> list[Answer]:
        """Every answer indexed for ``key`` (empty when the index does not hold it)."""
        return self.answers_many([key]).get(key, [])

    def answers_many(self, keys: Iterable[Key]) -> dict[Key, list[Answer]]:
        """:meth:`answers` of many keys in a few queries (a batch of labels)."""
        wanted = _rows_by_request(keys)
        found: dict[Key, list[Answer]] = {}
        runs = self._by_request("role, first_row, rows, who, predictions, born", "answers", wanted)
        for request_id, role, first_row, count, wid, predictions, born in runs:
            rows = [r for r in wanted[request_id] if first_row <= r < first_row + count]
            if not rows:
                continue
            parsed = self._parsed((request_id, role, first_row), predictions)
            model, variant, version = self._whom[wid]
            for row in rows:
                answer = Answer(ROLES[role], variant, version, parsed[row - first_row], born / 1e3, model)
                found.setdefault((request_id, row), []).append(answer)
        return found

    def resolve_many(self, wanted: Iterable[EntityAt]) -> dict[EntityAt, Key]:
        """The served prediction each ``(model, entity, at)`` labels: the entity's latest at or before ``at``
        (absent when the index holds none)."""
        sql = (
            "SELECT rid, row FROM entities WHERE model = ? AND entity = ? AND born <= ? "
            "ORDER BY born DESC, rid DESC, row DESC LIMIT 1"
        )
        found: dict[EntityAt, Key] = {}
        with self._lock:
            for item in dict.fromkeys(wanted):
                model, entity, at = item
                hit = self._db.execute(sql, (model, entity, _millis(at))).fetchone()
                if hit is not None:
                    rid = hit[0].hex() if isinstance(hit[0], bytes) else hit[0]
                    found[item] = (rid, int(hit[1]))
        return found

    def labels_many(self, keys: Iterable[Key]) -> dict[Key, StoredLabel]:
        """:meth:`label` of many keys in a few queries; keys without a label are absent."""
        wanted = _rows_by_request(keys)
        return {
            (request_id, row): StoredLabel(json.loads(label), bool(logged))
            for request_id, row, label, logged in self._by_request("row, label, logged", "labels", wanted)
            if row in wanted[request_id]
        }

    def _parsed(self, run: tuple[str, int, int], predictions: str) -> list[Any]:
        """A run's predictions, parsed; the last few runs are kept, as a batch's labels often come together."""
        parsed = self._recent.get(run)
        if parsed is None:
            parsed = json.loads(predictions)
            if len(self._recent) >= 8:
                self._recent.pop(next(iter(self._recent)))
            self._recent[run] = parsed
        return parsed

    # ------------------------------------------------------------------------------------------ labels
    def label(self, key: Key) -> StoredLabel | None:
        """The label of ``key``, or None when it has none."""
        return self.labels_many([key]).get(key)

    def add_labels(
        self,
        labels: Iterable[tuple[str, int, float, Any]],
        logged: bool = False,
        file: str | None = None,
        hour_start: float = 0.0,
    ) -> None:
        """Record ``(request_id, row, born, label)`` labels; a key already labelled keeps its first label. With
        ``logged`` they are marked as in the Parquet feedback log, and ``file`` (that log file) as indexed."""
        values = [(_rid(r), row, _millis(born), json.dumps(label), int(logged)) for r, row, born, label in labels]
        with self._transaction() as db:
            db.executemany("INSERT OR IGNORE INTO labels VALUES (?, ?, ?, ?, ?)", values)
            if logged:
                db.executemany("UPDATE labels SET logged = 1 WHERE rid = ? AND row = ?", [v[:2] for v in values])
            if file is not None:
                db.execute("INSERT OR IGNORE INTO files VALUES (?, ?)", (file, _millis(hour_start)))

    def mark_logged(self, keys: Iterable[Key], file: str, hour_start: float) -> None:
        """The labels of ``keys`` are in feedback log ``file``: recorded with the file, in one transaction."""
        with self._transaction() as db:
            db.executemany("UPDATE labels SET logged = 1 WHERE rid = ? AND row = ?", [(_rid(r), n) for r, n in keys])
            db.execute("INSERT OR IGNORE INTO files VALUES (?, ?)", (file, _millis(hour_start)))

    # ------------------------------------------------------------------------------------------ files, upkeep
    def files(self, since: float) -> set[str]:
        """The log files (as recorded) of the hours starting at or after ``since`` that are indexed."""
        with self._lock:
            return {name for (name,) in self._db.execute("SELECT name FROM files WHERE hour >= ?", (_millis(since),))}

    def prune(self, before: float, chunk: int = 50_000) -> int:
        """Delete what was born before ``before``, ``chunk`` rows per transaction (never a long stall); returns
        how many rows went."""
        cutoff, removed = _millis(before), 0
        tables = (
            ("answers", "rid, role, first_row"),
            ("labels", "rid, row"),
            ("entities", "model, entity, born, rid, row"),
        )
        for table, key in tables:
            sql = f"DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM {table} WHERE born < ? LIMIT ?)"
            while True:
                with self._transaction() as db:
                    gone = db.execute(sql, (cutoff, chunk)).rowcount
                removed += gone
                if gone < chunk:
                    break
        with self._transaction() as db:
            db.execute("DELETE FROM files WHERE hour < ?", (cutoff - 3_600_000,))
        return removed

    def rows(self) -> int:
        """How many runs of answers the index holds (for benchmarks: it counts the table)."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
