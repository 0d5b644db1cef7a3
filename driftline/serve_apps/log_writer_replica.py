"""The log writer as a Serve deployment: its event loop stays free while one worker thread writes.

:class:`~driftline.serve_apps.log_writer.LogWriter` is synchronous (Parquet writes, fsyncs, the index). Run on the
replica's event loop, a slow write would block Serve's queue-length probes, so routers would keep handing it calls
and every queued call's records would sit in its memory. Here the loop only awaits: writes run one at a time on one
thread, the replica refuses calls beyond ``max_ongoing_requests`` (callers queue them), and the writer's memory is
bounded by that many calls, each at most ``MAX_APPEND_ROWS`` records (routers split larger appends).
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from driftline.core.records import PredictionRecord
from driftline.serve_apps.log_writer import FeedbackOutcome, LogWriter

__all__ = ["MAX_APPEND_ROWS", "MAX_ONGOING_CALLS", "LogWriterReplica", "append_calls"]

MAX_APPEND_ROWS = 2_000  # a router sends its buffered records in calls of at most this many
MAX_ONGOING_CALLS = 4  # calls a writer replica holds at once (appends, labels, health)


class LogWriterReplica:
    """Serve deployment class; takes :class:`LogWriter`'s arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._writer = LogWriter(*args, **kwargs)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="log-writer")

    async def _run(self, method: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._thread, method, *args)

    async def append(self, records: list[PredictionRecord]) -> int:
        return int(await self._run(self._writer.append, records))

    async def feedback(self, items: list[dict[str, Any]], now: float) -> list[FeedbackOutcome]:
        outcomes: list[FeedbackOutcome] = await self._run(self._writer.feedback, items, now)
        return outcomes

    async def health(self) -> dict[str, Any]:
        health: dict[str, Any] = await self._run(self._writer.health)
        return health

    def __del__(self) -> None:
        # Serve calls __del__ on graceful shutdown: nothing buffered is lost.
        with contextlib.suppress(Exception):
            self._thread.shutdown(wait=True)
        self._writer.close()


def append_calls(records: list[PredictionRecord], size: int = MAX_APPEND_ROWS) -> list[list[PredictionRecord]]:
    """``records`` in calls of about ``size`` log rows (a record, one request's rows, is never split).

    >>> from driftline.core.records import Role, Variant
    >>> def record(rows): return PredictionRecord("r", "", 0.0, "m", "1", Variant.CHAMPION, Role.SERVED,
    ...                                           [{}] * rows, [0] * rows, [[]] * rows, 1.0)
    >>> [len(c) for c in append_calls([record(1), record(1), record(3), record(1)], 2)]
    [2, 1, 1]
    """
    chunks: list[list[PredictionRecord]] = [[]]
    rows = 0
    for record in records:
        if rows >= size:
            chunks.append([])
            rows = 0
        chunks[-1].append(record)
        rows += len(record)
    return chunks if chunks[0] else []
