"""A router replica's buffer of prediction records on their way to the log writer.

Records are handed over in bounded calls by the background pump (every ``poll_seconds``) and before any label is
passed on (:meth:`LogBuffer.flush` with ``wait``: a label must never reach the writer before its prediction). A
call that fails in any way puts its records back for the next flush: nothing is dropped, and the writer skips
records it already holds, so sending one again duplicates nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any

from driftline.core.records import PredictionRecord
from driftline.serve_apps.log_writer_replica import append_calls

__all__ = ["LogBuffer"]


class LogBuffer:
    """Not thread-safe by design: one router replica's event loop owns it. ``writer`` is the log writer's handle."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer
        self._records: list[PredictionRecord] = []
        self._appends: set[asyncio.Task[None]] = set()  # appends to the writer not yet answered

    def add(self, record: PredictionRecord) -> None:
        self._records.append(record)

    def __len__(self) -> int:
        return len(self._records)

    async def flush(self, wait: bool = False) -> None:
        """Hand the buffered records to the writer. With ``wait``, return once every record logged so far is in
        the writer's index: ours and those of appends already in flight (the pump's, another request's), for calls
        to one replica may run concurrently. A failed append then raises: the labels waiting are refused, not lost."""
        if self._records:
            records, self._records = self._records, []
            for chunk in append_calls(records):  # bounded calls: the writer's memory stays flat
                task = asyncio.get_running_loop().create_task(self._append(chunk))
                self._appends.add(task)
                task.add_done_callback(self._append_done)
        if wait and self._appends:
            # Shielded: a waiter cancelled (its client gave up while the writer was down) must not cancel the
            # appends, whose records would then be dropped.
            await asyncio.gather(*(asyncio.shield(task) for task in list(self._appends)))

    async def _append(self, records: list[PredictionRecord]) -> None:
        """If the call fails in any way (the writer's replica died during it, no replica was available, the call was
        cancelled), the records go back to the buffer for the next flush, never dropped."""
        try:
            await self._writer.append.remote(records)
        except BaseException:
            self._records[:0] = records
            raise

    def _append_done(self, task: asyncio.Task[None]) -> None:
        self._appends.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a failure of the pump's append is handled by putting the records back
