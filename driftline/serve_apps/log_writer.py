"""The single writer of the prediction and feedback logs (a Serve deployment with one replica).

Routers send it batches of prediction records; it buffers and flushes to Parquet by size and by time, and on
shutdown. It also keeps an index of recent predictions so feedback is joined, checked and counted exactly once:
an unknown request id is reported (the API answers 404), a repeated label is idempotent (never double counted).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from driftline.serve_apps.prediction_log import FEEDBACK, PREDICTIONS, ParquetSink

__all__ = ["FeedbackOutcome", "LogWriter"]

FeedbackOutcome = dict[str, Any]


class LogWriter:
    """Serve deployment class; ``root`` is ``<workdir>/logs``."""

    def __init__(self, root: str, flush_rows: int = 2_000, flush_seconds: float = 2.0, index_size: int = 500_000):
        self._sink = ParquetSink(root)
        self._flush_rows, self._flush_seconds, self._index_size = flush_rows, flush_seconds, index_size
        self._buffers: dict[str, list[dict[str, Any]]] = {PREDICTIONS: [], FEEDBACK: []}
        # (request_id, row) -> {"served": (variant, version, prediction), "shadow": (...)}
        self._index: OrderedDict[tuple[str, int], dict[str, tuple[str, str, int]]] = OrderedDict()
        self._labelled: OrderedDict[tuple[str, int], int] = OrderedDict()
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()
        self._rebuild_index(Path(root))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._flush_periodically, daemon=True)
        self._thread.start()

    def _rebuild_index(self, root: Path) -> None:
        """After a restart, recent predictions and labels come back from the logs, so feedback still joins."""
        cols = ["request_id", "row", "variant", "role", "model_version", "prediction"]
        try:
            frame = self._sink.read(PREDICTIONS, columns=cols).tail(self._index_size)
            labels = self._sink.read(FEEDBACK, columns=["request_id", "row", "label"])
        except Exception:  # an unreadable old file must not stop serving; the index simply starts empty
            return
        for rec in frame.itertuples(index=False):
            entry = self._index.setdefault((rec.request_id, int(rec.row)), {})
            entry[rec.role] = (rec.variant, str(rec.model_version), int(rec.prediction))
        for rec in labels.itertuples(index=False):
            self._labelled[(rec.request_id, int(rec.row))] = int(rec.label)

    def _flush_periodically(self) -> None:
        while not self._stop.wait(self._flush_seconds / 2):
            if time.monotonic() - self._last_flush >= self._flush_seconds:
                self.flush()

    def append(self, records: list[dict[str, Any]]) -> int:
        with self._lock:
            self._buffers[PREDICTIONS].extend(records)
            for rec in records:
                entry = self._index.setdefault((rec["request_id"], rec["row"]), {})
                entry[rec["role"]] = (rec["variant"], rec["model_version"], rec["prediction"])
            while len(self._index) > self._index_size:
                self._index.popitem(last=False)
            full = len(self._buffers[PREDICTIONS]) >= self._flush_rows
        if full:
            self.flush()
        return len(records)

    def feedback(self, items: list[dict[str, Any]], now: float) -> list[FeedbackOutcome]:
        """Record labels; each outcome is accepted | duplicate | conflict | unknown_request_id (+ who was right)."""
        outcomes = []
        with self._lock:
            for item in items:
                key = (item["request_id"], int(item.get("row", 0)))
                entry = self._index.get(key)
                if entry is None:
                    outcomes.append({"request_id": key[0], "row": key[1], "status": "unknown_request_id"})
                    continue
                if key in self._labelled:
                    same = self._labelled[key] == item["label"]
                    status = "duplicate" if same else "conflict"
                    outcomes.append({"request_id": key[0], "row": key[1], "status": status})
                    continue
                self._labelled[key] = item["label"]
                self._buffers[FEEDBACK].append(
                    {"request_id": key[0], "row": key[1], "timestamp": now, "label": int(item["label"])}
                )
                scored = [
                    {"variant": v, "role": role, "model_version": ver, "correct": pred == item["label"]}
                    for role, (v, ver, pred) in entry.items()
                ]
                outcomes.append({"request_id": key[0], "row": key[1], "status": "accepted", "scored": scored})
            while len(self._labelled) > self._index_size:
                self._labelled.popitem(last=False)
        return outcomes

    def flush(self) -> dict[str, int]:
        with self._lock:
            batches = {log: rows for log, rows in self._buffers.items() if rows}
            self._buffers = {PREDICTIONS: [], FEEDBACK: []}
            self._last_flush = time.monotonic()
        written = {}
        for log, rows in batches.items():
            try:
                written[log] = self._sink.write(log, rows)
            except Exception:
                with self._lock:  # keep them for the next flush instead of losing them
                    self._buffers[log][:0] = rows
                raise
        return written

    def __del__(self) -> None:
        # Serve calls __del__ on graceful shutdown: nothing buffered is lost.
        self._stop.set()
        self.flush()
