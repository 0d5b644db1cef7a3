"""The single writer of the prediction and feedback logs (a Serve deployment with one replica).

Routers send it batches of prediction records; it buffers and flushes to Parquet by size and by time, and on
shutdown. Every prediction it writes goes into the on-disk :class:`~driftline.serve_apps.label_index.LabelIndex`,
so a label for any prediction inside the label window (``window_hours``) is checked, deduplicated and scored
exactly once, however many predictions came after it, with the writer's memory bounded by its buffers and the
index's page cache. A label for a prediction older than the window is ``expired``; one for a request that was never
logged is ``unknown_request_id``. A label by business key (``id``) joins the latest served prediction of that key,
for that model, at or before the label's ``time``; none in the window is ``unknown_id``.

Durability: an accepted label is in the fsynced :class:`~driftline.serve_apps.feedback_journal.FeedbackJournal`
(and the predictions it joins are in the Parquet log) before ``feedback`` returns, so a 200 survives a SIGKILL of
any process. A failed flush puts back exactly the partitions that were not written (nothing lost, nothing written
twice); the flush thread survives it and ``health()`` reports the writer degraded until a flush succeeds. At a
restart the index takes in the log files written after its last commit (all the window's files if it is new or was
unreadable) and the journal's labels, so what a restart reads grows with what it missed, not with the history.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftline.core.partitions import HOUR_SECONDS, partition_start
from driftline.core.records import PredictionRecord
from driftline.datasets.schema import as_scalar
from driftline.serve_apps.answer_runs import (
    INDEXED_COLUMNS,
    labels_of_table,
    run_of_record,
    runs_of_rows,
    runs_of_table,
)
from driftline.serve_apps.feedback import FeedbackStatus, item_key
from driftline.serve_apps.feedback_journal import FeedbackJournal
from driftline.serve_apps.label_index import Answer, EntityAt, IndexedAnswers, Key, LabelIndex, StoredLabel
from driftline.serve_apps.prediction_log import FEEDBACK, PREDICTIONS, ParquetSink
from driftline.serve_apps.request_ids import issued_at

__all__ = ["FeedbackOutcome", "LogWriter"]

FeedbackOutcome = dict[str, Any]
_CATCH_UP_ROWS = 50_000  # rows of a log file taken into the index at a time at a restart
_PRUNE_SECONDS = 600.0  # how often rows older than the window leave the index


@dataclass
class _Written:
    """A log file on disk whose answers the index does not hold yet (its commit failed, or has not run)."""

    name: str
    hour_start: float
    runs: list[IndexedAnswers] = field(default_factory=list)


class LogWriter:
    """Serve deployment class; ``root`` is ``<workdir>/logs``; the index lives in ``index_dir`` (default
    ``<root>/label_index``; on a cluster whose logs are on a network file system, give it a node-local disk: SQLite
    must not run over NFS, and a writer that moves to another node rebuilds its index from the window's logs)."""

    def __init__(
        self,
        root: str,
        flush_rows: int = 2_000,
        flush_seconds: float = 2.0,
        window_hours: float = 48.0,
        index_dir: str | None = None,
        index_cache_mb: int = 16,
        rescan_seconds: float = 30.0,
    ) -> None:
        self._sink = ParquetSink(root)
        self._journal = FeedbackJournal(Path(root) / "journal")
        self._index = LabelIndex(index_dir or Path(root) / "label_index", cache_mb=index_cache_mb)
        self._flush_rows, self._flush_seconds = flush_rows, flush_seconds
        self._window = window_hours * HOUR_SECONDS
        self._buffers: dict[str, list[dict[str, Any]]] = {PREDICTIONS: [], FEEDBACK: []}
        # Answers not yet in the index (buffered, or written but not committed there), by request id: the index's
        # in-memory part, a few flushes' worth.
        self._pending: dict[str, list[IndexedAnswers]] = {}
        self._unindexed: list[_Written] = []
        self._unindexed_labels: dict[Key, tuple[float, Any]] = {}  # accepted, journalled, index commit failed
        self._lock = threading.RLock()
        self._last_flush = time.monotonic()
        self._last_prune = 0.0
        self._rescan_seconds, self._last_rescan = rescan_seconds, time.monotonic()
        self.last_error: str | None = None
        self.torn_journal_lines = 0
        self.caught_up_files = 0
        self._catch_up()
        self._recover_journal()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._upkeep, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------------------------------ restart
    def _catch_up(self) -> None:
        """Index the window's log files the index does not hold: those written after its last commit, or all of
        them for a new (or rebuilt) index, and (every ``rescan_seconds``) those a batch job wrote meanwhile. Each
        file is read alone, so memory stays flat however big the window."""
        since = time.time() - self._window - HOUR_SECONDS
        known = self._index.files(since - HOUR_SECONDS)
        for log in (PREDICTIONS, FEEDBACK):
            for path in self._sink.files(log, since):
                name = self._sink.name(path)
                if name in known:
                    continue
                hour_start = partition_start(name) or 0.0
                if log == PREDICTIONS:
                    table = self._sink.read_file(path, INDEXED_COLUMNS)
                    if table is not None:  # a big file goes in by slices; the file is recorded with the last
                        batches = table.to_batches(max_chunksize=_CATCH_UP_ROWS) or [table]
                        for number, batch in enumerate(batches, start=1):
                            last = number == len(batches)
                            self._index.add_answers(runs_of_table(batch), name if last else None, hour_start)
                else:
                    table = self._sink.read_file(path, ["request_id", "row", "timestamp", "label"])
                    if table is not None:
                        self._index.add_labels(labels_of_table(table), logged=True, file=name, hour_start=hour_start)
                self.caught_up_files += table is not None

    def _recover_journal(self) -> None:
        """Labels acknowledged before a crash but not yet in the Parquet log are written there now."""
        records, self.torn_journal_lines = self._journal.replay()
        stored = self._index.labels_many((r["request_id"], int(r["row"])) for r in records)
        taken: dict[Key, dict[str, Any]] = {}
        for record in records:
            key = (record["request_id"], int(record["row"]))
            if key in taken or (key in stored and stored[key].logged):
                continue
            taken[key] = {**record, "row": key[1], "label": as_scalar(record["label"])}
        self._index.add_labels([(k[0], k[1], r["timestamp"], r["label"]) for k, r in taken.items()])
        self._buffers[FEEDBACK].extend(taken.values())
        if taken or records:
            self._try_flush()

    # ------------------------------------------------------------------------------------------ writes
    def _upkeep(self) -> None:
        while not self._stop.wait(self._flush_seconds / 2):
            if time.monotonic() - self._last_flush >= self._flush_seconds:
                self._try_flush()
            if time.monotonic() - self._last_rescan >= self._rescan_seconds:
                self._last_rescan = time.monotonic()
                with contextlib.suppress(Exception), self._lock:  # batch jobs' files; a failure retries next round
                    self._catch_up()
            if time.monotonic() - self._last_prune >= _PRUNE_SECONDS:
                self._last_prune = time.monotonic()
                with contextlib.suppress(Exception):  # pruning is upkeep: the next round tries again
                    self._index.prune(before=time.time() - self._window - HOUR_SECONDS)

    def _try_flush(self) -> None:
        with contextlib.suppress(Exception):  # recorded in last_error; the records stay buffered for the next flush
            self.flush()

    def append(self, records: list[PredictionRecord]) -> int:
        """Buffer prediction records; returns how many log rows were new. Idempotent: a router sends a batch again
        when it saw no answer (this replica died mid-call), so a record already buffered or on disk is skipped."""
        added = 0
        with self._lock:
            on_disk = self._index.indexed({record.request_id for record in records})
            for record in records:
                run = run_of_record(record)
                held = self._pending.get(run.request_id, [])
                if (run.request_id, run.role, run.first_row) in on_disk or any(
                    h.role == run.role and h.first_row == run.first_row for h in held
                ):
                    continue
                self._pending[run.request_id] = [*held, run]
                self._buffers[PREDICTIONS].extend(record.rows())
                added += len(record)
            full = len(self._buffers[PREDICTIONS]) >= self._flush_rows
        if full:
            self._try_flush()
        return added

    def feedback(self, items: list[dict[str, Any]], now: float) -> list[FeedbackOutcome]:
        """Record labels; each outcome's status is a :class:`FeedbackStatus` value."""
        with self._lock:
            outcomes, accepted = self._judge(items, now)
            if not accepted:
                return outcomes
            try:
                if self._buffers[PREDICTIONS] and any(r["request_id"] in self._pending for r in accepted):
                    self._write(PREDICTIONS)  # a durable label needs its prediction on disk (the index may follow)
                self._journal.append(accepted)
            except Exception as exc:  # e.g. a full disk: refuse the labels, keep nothing half-acknowledged
                self.last_error = f"{type(exc).__name__}: {exc}"
                self._buffers[FEEDBACK] = self._buffers[FEEDBACK][: -len(accepted)]
                keys = {(r["request_id"], r["row"]) for r in accepted}
                unavailable = FeedbackStatus.UNAVAILABLE.value
                return [
                    {**o, "status": unavailable, "scored": []} if (o.get("request_id"), o.get("row")) in keys else o
                    for o in outcomes
                ]
            labels = [(r["request_id"], r["row"], r["timestamp"], r["label"]) for r in accepted]
            try:
                self._index.add_labels(labels)
            except Exception as exc:  # durable in the journal; held here until the index takes them
                self.last_error = f"{type(exc).__name__}: {exc}"
                self._unindexed_labels.update({(r, n): (t, label) for r, n, t, label in labels})
            return outcomes

    def _answers(self, key: Key, indexed: dict[Key, list[Answer]]) -> list[Answer]:
        """The answers of ``key``: those still in memory, then those the index holds (``indexed``, prefetched)."""
        held = [
            Answer(run.role, run.variant, run.version, run.predictions[key[1] - run.first_row], run.born, run.model)
            for run in self._pending.get(key[0], ())
            if run.first_row <= key[1] < run.first_row + len(run.predictions)
        ]
        roles = {answer.role for answer in held}
        return held + [answer for answer in indexed.get(key, ()) if answer.role not in roles]

    def _stored_label(self, key: Key, stored: dict[Key, StoredLabel]) -> tuple[bool, Any]:
        if key in self._unindexed_labels:
            return True, self._unindexed_labels[key][1]
        label = stored.get(key)
        return (False, None) if label is None else (True, label.value)

    def _resolve(self, items: list[dict[str, Any]], now: float) -> dict[EntityAt, Key]:
        """The prediction each label by business key joins: the latest served one of (model, id) at or before the
        label's time, among the answers still in memory and those in the index."""
        wanted = [(item.get("model") or "", item["id"], item.get("time") or now) for item in items if "id" in item]
        if not wanted:
            return {}
        found = self._index.resolve_many(wanted)
        held: dict[tuple[str, str], list[tuple[float, str, int]]] = {}
        for runs in self._pending.values():
            for run in runs:
                if run.entities and run.role == "served":
                    for offset, entity in enumerate(run.entities):
                        held.setdefault((run.model, entity), []).append(
                            (run.born, run.request_id, run.first_row + offset)
                        )
        for model, entity, at in wanted:
            recent = [h for h in held.get((model, entity), ()) if h[0] <= at]
            if recent:
                _, rid, row = max(recent)
                found[(model, entity, at)] = (rid, row)  # buffered answers are newer than any indexed one
        return found

    def _judge(self, items: list[dict[str, Any]], now: float) -> tuple[list[FeedbackOutcome], list[dict[str, Any]]]:
        outcomes: list[FeedbackOutcome] = []
        accepted: list[dict[str, Any]] = []
        cutoff = now - self._window
        in_batch: dict[Key, Any] = {}
        resolved = self._resolve(items, now)
        keys: list[Key | None] = []
        for item in items:
            if "id" in item:
                keys.append(resolved.get((item.get("model") or "", item["id"], item.get("time") or now)))
            else:
                keys.append((item["request_id"], int(item.get("row", 0))))
        known = [k for k in keys if k is not None]
        indexed, stored = self._index.answers_many(known), self._index.labels_many(known)  # a few queries a batch
        for item, key in zip(items, keys, strict=True):
            if key is None:  # a business key with no prediction at or before the label's time in the window
                outcomes.append({**item_key(item), "status": FeedbackStatus.UNKNOWN_ID.value})
                continue
            outcome: FeedbackOutcome = {**item_key(item), "request_id": key[0], "row": key[1]}
            outcomes.append(outcome)
            answers = self._answers(key, indexed)
            if item.get("model"):  # labels sent to one model's route join only that model's predictions
                answers = [a for a in answers if a.model in (item["model"], "")]
            born = min((a.born for a in answers), default=issued_at(key[0]))
            if born is not None and born < cutoff:
                outcome["status"] = FeedbackStatus.EXPIRED.value
                outcome["message"] = (
                    f"The prediction was made {(now - born) / 3600:.1f} h ago; labels are taken for "
                    f"{self._window / 3600:g} h after a prediction (serve.feedback_window_hours)."
                )
                continue
            if not answers:
                outcome["status"] = FeedbackStatus.UNKNOWN_REQUEST_ID.value
                continue
            labelled, label = (True, in_batch[key]) if key in in_batch else self._stored_label(key, stored)
            if labelled:
                same = label == item["label"]
                outcome["status"] = (FeedbackStatus.DUPLICATE if same else FeedbackStatus.CONFLICT).value
                continue
            in_batch[key] = item["label"]
            record = {"request_id": key[0], "row": key[1], "timestamp": now, "label": item["label"]}
            self._buffers[FEEDBACK].append(record)
            accepted.append(record)
            outcome["status"] = FeedbackStatus.ACCEPTED.value
            outcome["scored"] = [a.score(item["label"]) for a in answers]
        return outcomes, accepted

    def flush(self) -> dict[str, int]:
        """Write both buffers; raises the first error after trying both (what failed stays buffered)."""
        with self._lock:
            self._last_flush = time.monotonic()
            written, errors = {}, []
            for log in (PREDICTIONS, FEEDBACK):  # predictions first: labels join them
                try:
                    written[log] = self._flush_predictions() if log == PREDICTIONS else self._flush_feedback()
                except Exception as exc:
                    errors.append(exc)
            if self._unindexed_labels:
                try:
                    self._index.add_labels([(r, n, t, label) for (r, n), (t, label) in self._unindexed_labels.items()])
                    self._unindexed_labels.clear()
                except Exception as exc:
                    errors.append(exc)
            if errors:
                self.last_error = f"{type(errors[0]).__name__}: {errors[0]}"
                raise errors[0]
            self.last_error = None
            return written

    def _write(self, log: str) -> list[tuple[str, list[dict[str, Any]]]]:
        """Write ``log``'s buffer partition by partition, returning (file name, rows) of each file written; a
        partition that failed (and every later one) stays buffered, and the error is raised after
        ``self._written`` saw what did land."""
        rows = self._buffers[log]
        pending = list(self._sink.partitions(rows).items())
        written: list[tuple[str, list[dict[str, Any]]]] = []
        try:
            for partition, part in pending:
                written.append((self._sink.name(self._sink.write_partition(log, partition, part)), part))
        finally:
            self._buffers[log] = [r for _, part in pending[len(written) :] for r in part] + self._buffers[log][
                len(rows) :
            ]
            self._note_written(log, written)
        return written

    def _note_written(self, log: str, written: list[tuple[str, list[dict[str, Any]]]]) -> None:
        """Predictions written wait in ``_unindexed`` for the index; labels written are marked as logged (if that
        fails, a restart reads the file again: nothing is lost)."""
        for name, part in written:
            if log == PREDICTIONS:
                runs = [run for run, _, _ in runs_of_rows(part)]
                self._unindexed.append(_Written(name, partition_start(name) or 0.0, runs))
            else:
                keys = [(r["request_id"], int(r["row"])) for r in part]
                with contextlib.suppress(Exception):
                    self._index.mark_logged(keys, name, partition_start(name) or 0.0)

    def _flush_predictions(self) -> int:
        count = len(self._buffers[PREDICTIONS])
        if count:
            self._write(PREDICTIONS)
        while self._unindexed:  # written files go into the index, then their answers leave memory
            written = self._unindexed[0]
            self._index.add_answers(written.runs, written.name, written.hour_start)
            self._unindexed.pop(0)
            for run in written.runs:
                end = run.first_row + len(run.predictions)
                held = [
                    h
                    for h in self._pending.get(run.request_id, ())
                    if h.role != run.role or not run.first_row <= h.first_row < end
                ]
                if held:
                    self._pending[run.request_id] = held
                else:
                    self._pending.pop(run.request_id, None)
        return count

    def _flush_feedback(self) -> int:
        count = len(self._buffers[FEEDBACK])
        if not count:
            return 0
        sealed = self._journal.seal()
        self._write(FEEDBACK)
        if sealed:
            self._journal.discard(sealed)
        return count

    def health(self) -> dict[str, Any]:
        """Degraded while the last flush or journal write failed; counts what is buffered and quarantined."""
        with self._lock:
            return {
                "status": "degraded" if self.last_error else "ok",
                "last_error": self.last_error,
                "buffered": {log: len(rows) for log, rows in self._buffers.items()},
                "quarantined_files": self._sink.quarantined,
                "torn_journal_lines": self.torn_journal_lines,
                "label_window_hours": self._window / HOUR_SECONDS,
                "label_index_rebuilt_from": str(self._index.moved_aside) if self._index.moved_aside else None,
            }

    def close(self) -> None:
        """Flush what is buffered and close the index (a graceful shutdown)."""
        self._stop.set()
        self._try_flush()
        with contextlib.suppress(Exception):
            self._index.close()

    def __del__(self) -> None:
        # Serve calls __del__ on graceful shutdown: nothing buffered is lost.
        self.close()
