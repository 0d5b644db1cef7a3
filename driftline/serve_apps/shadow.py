"""The shadow mirror: a copy of a served request goes to the candidate, off the user's path.

At most ``max_in_flight`` mirrored calls run at once (more are skipped and counted, never queued behind users);
each has a timeout; a failure or a timeout counts against the candidate; an answer is compared with the
champion's, counted for the rollout and logged with role ``shadow``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from driftline.core.records import Role, Variant
from driftline.serve_apps.model_host import ModelNotReady
from driftline.serve_apps.outcomes import Outcomes

__all__ = ["ShadowMirror"]

CandidateCall = Callable[[list[dict[str, Any]]], Awaitable[Any]]
ShadowLog = Callable[[list[dict[str, Any]], str, Any, float], None]


class ShadowMirror:
    """``start(call, version, rows, request_id, served, log)`` mirrors one request; returns at once."""

    def __init__(self, timeout_s: float, max_in_flight: int, outcomes: Outcomes) -> None:
        self._timeout, self._limit = timeout_s, max_in_flight
        self._outcomes = outcomes
        self.in_flight = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(
        self,
        call: CandidateCall,
        version: str | None,
        rows: list[dict[str, Any]],
        request_id: str,
        served: Any,
        log: ShadowLog,
    ) -> None:
        """Mirror ``rows`` to the candidate (``version``) with ``call``; ``served`` is the champion's answer; ``log``
        records the candidate's answer (rows, request id, result, latency in seconds)."""
        if self.in_flight >= self._limit:
            self._outcomes.shadow_skipped()
            return
        self.in_flight += 1
        task = asyncio.get_running_loop().create_task(self._mirror(call, version, rows, request_id, served, log))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _mirror(
        self,
        call: CandidateCall,
        version: str | None,
        rows: list[dict[str, Any]],
        request_id: str,
        served: Any,
        log: ShadowLog,
    ) -> None:
        started = time.perf_counter()
        try:
            result = await asyncio.wait_for(call(rows), self._timeout)
        except ModelNotReady:
            self._outcomes.shadow_skipped()
            return
        except Exception:  # a timeout or a candidate failure stays off the user's path; it is counted
            latency = time.perf_counter() - started
            self._outcomes.answered(Variant.CANDIDATE, Role.SHADOW, version, latency, error=True)
            return
        finally:
            self.in_flight -= 1
        latency = time.perf_counter() - started
        agreed = sum(_agree(a, b) for a, b in zip(result.predictions, served.predictions, strict=True))
        compared = len(result.predictions)
        self._outcomes.answered(Variant.CANDIDATE, Role.SHADOW, version, latency, compared=compared, agreed=agreed)
        log(rows, request_id, result, latency)


def _agree(candidate: Any, champion: Any) -> bool:
    """Same class; for numbers (regression), within 5% of the champion's value (or 1e-9 of zero).

    >>> _agree("yes", "yes"), _agree(10.4, 10.0), _agree(10.6, 10.0)
    (True, True, False)
    """
    if isinstance(champion, float) and isinstance(candidate, float):
        return abs(candidate - champion) <= 0.05 * abs(champion) + 1e-9
    return bool(candidate == champion)
