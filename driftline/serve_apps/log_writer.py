"""The single writer of the prediction and feedback logs (a Serve deployment with one replica).

Routers send it batches of prediction records; it buffers and flushes to Parquet by size and by time, and on
shutdown. It also keeps an index of recent predictions so feedback is joined, checked and counted exactly once:
an unknown request id is reported (the API answers 404), a repeated label is idempotent (never double counted).

Durability: an accepted label is in the fsynced :class:`~driftline.serve_apps.feedback_journal.FeedbackJournal`
(and the predictions it joins are in the Parquet log) before ``feedback`` returns, so a 200 survives a SIGKILL of
any process. A failed flush puts back exactly the partitions that were not written (nothing lost, nothing written
twice); the flush thread survives it and ``health()`` reports the writer degraded until a flush succeeds.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from driftline.datasets.schema import as_scalar
from driftline.serve_apps.feedback_journal import FeedbackJournal
from driftline.serve_apps.prediction_log import FEEDBACK, PREDICTIONS, ParquetSink

__all__ = ["FeedbackOutcome", "LogWriter"]

FeedbackOutcome = dict[str, Any]
Key = tuple[str, int]


class LogWriter:
    """Serve deployment class; ``root`` is ``<workdir>/logs``."""

    def __init__(
        self,
        root: str,
        flush_rows: int = 2_000,
        flush_seconds: float = 2.0,
        index_size: int = 500_000,
        window_hours: float = 48.0,
    ) -> None:
        self._sink = ParquetSink(root)
        self._journal = FeedbackJournal(Path(root) / "journal")
        self._flush_rows, self._flush_seconds, self._index_size = flush_rows, flush_seconds, index_size
        self._window_hours = window_hours
        self._buffers: dict[str, list[dict[str, Any]]] = {PREDICTIONS: [], FEEDBACK: []}
        self._unflushed: set[Key] = set()  # keys of predictions still only in memory
        # (request_id, row) -> {"served": (variant, version, prediction), "shadow": (...)}
        self._index: OrderedDict[Key, dict[str, tuple[str, str, int]]] = OrderedDict()
        self._labelled: OrderedDict[Key, int] = OrderedDict()
        self._lock = threading.RLock()
        self._last_flush = time.monotonic()
        self.last_error: str | None = None
        self.torn_journal_lines = 0
        self._rebuild_index()
        self._recover_journal()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._flush_periodically, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------------------------------ restart
    def _rebuild_index(self) -> None:
        """After a restart, the last ``window_hours`` of predictions and labels come back from the logs, so feedback
        still joins; what a restart reads grows with that window, not with the history on disk."""
        cols = ["request_id", "row", "variant", "role", "model_version", "prediction"]
        since = time.time() - self._window_hours * 3600.0
        frame = self._sink.read(PREDICTIONS, columns=cols, since=since).tail(self._index_size)
        labels = self._sink.read(FEEDBACK, columns=["request_id", "row", "label"], since=since)
        for rec in frame.itertuples(index=False):
            entry = self._index.setdefault((rec.request_id, int(rec.row)), {})
            entry[rec.role] = (rec.variant, str(rec.model_version), as_scalar(rec.prediction))
        for rec in labels.itertuples(index=False):
            self._labelled[(rec.request_id, int(rec.row))] = as_scalar(rec.label)

    def _recover_journal(self) -> None:
        """Labels acknowledged before a crash but not yet in the Parquet log are written there now."""
        records, self.torn_journal_lines = self._journal.replay()
        for record in records:
            key = (record["request_id"], int(record["row"]))
            if key not in self._labelled:
                self._labelled[key] = as_scalar(record["label"])
                self._buffers[FEEDBACK].append(record)
        if self._buffers[FEEDBACK] or records:
            self._try_flush()

    # ------------------------------------------------------------------------------------------ writes
    def _flush_periodically(self) -> None:
        while not self._stop.wait(self._flush_seconds / 2):
            if time.monotonic() - self._last_flush >= self._flush_seconds:
                self._try_flush()

    def _try_flush(self) -> None:
        with contextlib.suppress(Exception):  # recorded in last_error; the records stay buffered for the next flush
            self.flush()

    def append(self, records: list[dict[str, Any]]) -> int:
        """Buffer prediction records; returns how many were new. Idempotent: a router sends a batch again when it
        saw no answer (this replica died mid-call), so a row already indexed, buffered or on disk, is skipped."""
        added = 0
        with self._lock:
            for rec in records:
                key = (rec["request_id"], rec["row"])
                entry = self._index.setdefault(key, {})
                if rec["role"] in entry:
                    continue
                entry[rec["role"]] = (rec["variant"], rec["model_version"], rec["prediction"])
                self._buffers[PREDICTIONS].append(rec)
                self._unflushed.add(key)
                added += 1
            while len(self._index) > self._index_size:
                self._index.popitem(last=False)
            full = len(self._buffers[PREDICTIONS]) >= self._flush_rows
        if full:
            self._try_flush()
        return added

    def feedback(self, items: list[dict[str, Any]], now: float) -> list[FeedbackOutcome]:
        """Record labels; each outcome is accepted | duplicate | conflict | unknown_request_id | unavailable."""
        with self._lock:
            outcomes, accepted = self._judge(items, now)
            if not accepted:
                return outcomes
            try:
                if any((r["request_id"], r["row"]) in self._unflushed for r in accepted):
                    self._flush_log(PREDICTIONS)  # a durable label needs its prediction on disk too
                self._journal.append(accepted)
            except Exception as exc:  # e.g. a full disk: refuse the labels, keep nothing half-acknowledged
                self.last_error = f"{type(exc).__name__}: {exc}"
                for record in accepted:
                    self._labelled.pop((record["request_id"], record["row"]), None)
                self._buffers[FEEDBACK] = self._buffers[FEEDBACK][: -len(accepted)]
                keys = {(r["request_id"], r["row"]) for r in accepted}
                return [
                    {**o, "status": "unavailable", "scored": []} if (o["request_id"], o["row"]) in keys else o
                    for o in outcomes
                ]
            return outcomes

    def _judge(self, items: list[dict[str, Any]], now: float) -> tuple[list[FeedbackOutcome], list[dict[str, Any]]]:
        outcomes, accepted = [], []
        for item in items:
            key = (item["request_id"], int(item.get("row", 0)))
            entry = self._index.get(key)
            if entry is None:
                outcomes.append({"request_id": key[0], "row": key[1], "status": "unknown_request_id"})
                continue
            if key in self._labelled:
                status = "duplicate" if self._labelled[key] == item["label"] else "conflict"
                outcomes.append({"request_id": key[0], "row": key[1], "status": status})
                continue
            self._labelled[key] = item["label"]
            record = {"request_id": key[0], "row": key[1], "timestamp": now, "label": item["label"]}
            self._buffers[FEEDBACK].append(record)
            accepted.append(record)
            scored = [_score(v, role, ver, pred, item["label"]) for role, (v, ver, pred) in entry.items()]
            outcomes.append({"request_id": key[0], "row": key[1], "status": "accepted", "scored": scored})
        while len(self._labelled) > self._index_size:
            self._labelled.popitem(last=False)
        return outcomes, accepted

    def flush(self) -> dict[str, int]:
        """Write both buffers; raises the first error after trying both (what failed stays buffered)."""
        with self._lock:
            self._last_flush = time.monotonic()
            written, errors = {}, []
            for log in (PREDICTIONS, FEEDBACK):  # predictions first: labels join them
                try:
                    written[log] = self._flush_log(log)
                except Exception as exc:
                    errors.append(exc)
            if errors:
                self.last_error = f"{type(errors[0]).__name__}: {errors[0]}"
                raise errors[0]
            self.last_error = None
            return written

    def _flush_log(self, log: str) -> int:
        """Write ``log``'s buffer partition by partition; a partition that failed (and every later one) stays."""
        rows = self._buffers[log]
        if not rows:
            return 0
        sealed = self._journal.seal() if log == FEEDBACK else []
        pending = list(self._sink.partitions(rows).items())
        done = 0
        try:
            for partition, part in pending:
                self._sink.write_partition(log, partition, part)
                done += 1
        finally:
            self._buffers[log] = [r for _, part in pending[done:] for r in part] + self._buffers[log][len(rows) :]
            if log == PREDICTIONS:
                self._unflushed = {(r["request_id"], r["row"]) for r in self._buffers[log]}
        if sealed:
            self._journal.discard(sealed)
        return len(rows)

    def health(self) -> dict[str, Any]:
        """Degraded while the last flush or journal write failed; counts what is buffered and quarantined."""
        with self._lock:
            return {
                "status": "degraded" if self.last_error else "ok",
                "last_error": self.last_error,
                "buffered": {log: len(rows) for log, rows in self._buffers.items()},
                "quarantined_files": self._sink.quarantined,
                "torn_journal_lines": self.torn_journal_lines,
            }

    def __del__(self) -> None:
        # Serve calls __del__ on graceful shutdown: nothing buffered is lost.
        self._stop.set()
        self._try_flush()


def _score(variant: str, role: str, version: str, prediction: Any, label: Any) -> dict[str, Any]:
    """How one answer fared against its label: right or wrong, and for a number (regression) its absolute error."""
    scored = {"variant": variant, "role": role, "model_version": version, "correct": prediction == label}
    if isinstance(label, float) and isinstance(prediction, (int, float)) and not isinstance(prediction, bool):
        scored["abs_error"] = abs(float(prediction) - label)
    return scored
