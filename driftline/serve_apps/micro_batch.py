"""Calls that arrive together are answered by one function call, run on a thread off the event loop.

A call waits at most ``wait_s`` for others to join its batch (none when the batch is full); while one batch runs,
the next one forms. A caller that gives up (a timeout) leaves its batch unharmed. One batcher per model version:
a slow version never holds up another's calls.

>>> import asyncio
>>> async def demo():
...     batcher = MicroBatcher(lambda calls: [c * 10 for c in calls], max_size=8, wait_s=0.001)
...     return await asyncio.gather(*(batcher.submit(n) for n in range(3))), batcher.batches
>>> asyncio.run(demo())
([0, 10, 20], 1)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["MicroBatcher"]

C = TypeVar("C")
R = TypeVar("R")


class MicroBatcher(Generic[C, R]):
    """``answer(calls)`` returns one result per call, or an exception for a call that failed on its own."""

    def __init__(
        self,
        answer: Callable[[list[C]], list[R | Exception]],
        max_size: int,
        wait_s: float,
        before: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._answer, self._max, self._wait, self._before = answer, max_size, wait_s, before
        self._queue: list[tuple[C, asyncio.Future[R]]] = []
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0

    async def submit(self, call: C) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((call, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            if len(self._queue) < self._max and self._wait > 0:
                await asyncio.sleep(self._wait)  # let concurrent calls join
            batch, self._queue = self._queue[: self._max], self._queue[self._max :]
            batch = [(call, future) for call, future in batch if not future.done()]  # callers that gave up
            if not batch:
                continue
            self.batches += 1
            try:
                if self._before is not None:
                    await self._before()
                results: list[R | Exception] = await asyncio.to_thread(self._answer, [call for call, _ in batch])
            except Exception as exc:  # the whole batch failed: every call gets the error
                results = [exc] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
