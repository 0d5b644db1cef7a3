"""Which version held an alias when, and why: MLflow keeps only the current alias, so every move is recorded on the
timeline (``alias_set`` events, written by the registry adapter right after MLflow took the move) and read back here.

Pure: events in, periods out.

>>> events = [
...     {"kind": "alias_set", "time": 100.0, "alias": "champion", "version": "1", "reason": "initial champion"},
...     {"kind": "decision", "time": 150.0, "message": "retrain"},
...     {"kind": "alias_set", "time": 200.0, "alias": "champion", "version": "2", "reason": "canary passed every step"},
... ]
>>> [(p.version, p.since, p.until) for p in alias_periods(events)]
[('1', 100.0, 200.0), ('2', 200.0, None)]
>>> alias_at(events, 150.0).version, alias_at(events, 250.0).reason, alias_at(events, 50.0)
('1', 'canary passed every step', None)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["ALIAS_SET", "AliasPeriod", "alias_at", "alias_periods", "history_answer", "parse_time"]

ALIAS_SET = "alias_set"


@dataclass(frozen=True)
class AliasPeriod:
    """``version`` held ``alias`` from ``since`` until ``until`` (Unix seconds; None: still holds it)."""

    alias: str
    version: str
    since: float
    until: float | None
    reason: str
    previous: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def alias_periods(events: list[dict[str, Any]], alias: str = "champion") -> list[AliasPeriod]:
    """Every period of ``alias``, oldest first, from the timeline's events (any order)."""
    moves = sorted(
        (e for e in events if e.get("kind") == ALIAS_SET and e.get("alias") == alias), key=lambda e: float(e["time"])
    )
    periods = []
    for i, move in enumerate(moves):
        until = float(moves[i + 1]["time"]) if i + 1 < len(moves) else None
        previous = move.get("previous")
        periods.append(
            AliasPeriod(
                alias,
                str(move["version"]),
                float(move["time"]),
                until,
                str(move.get("reason") or ""),
                None if previous is None else str(previous),
            )
        )
    return periods


def parse_time(text: str) -> float:
    """Unix seconds from ISO 8601 (``2026-12-04T10:00:00Z``; naive means UTC) or from a number of seconds.

    >>> parse_time("1970-01-01T00:01:40Z"), parse_time("100")
    (100.0, 100.0)
    """
    from datetime import datetime, timezone

    from driftline.core.errors import DataError

    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise DataError(f"Time {text!r} is not a finite number of seconds.", "Use e.g. 2026-12-04T10:00:00Z.")
        return seconds
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()
    except (ValueError, OverflowError):
        raise DataError(
            f"Time {text!r} is neither ISO 8601 nor Unix seconds.", "Use e.g. 2026-12-04T10:00:00Z."
        ) from None


def history_answer(events: list[dict[str, Any]], alias: str = "champion", at: float | None = None) -> dict[str, Any]:
    """What ``GET /rollout/history`` and ``driftline history`` answer: every period, and the one at ``at``."""
    periods = alias_periods(events, alias)
    found = alias_at(events, at, alias) if at is not None else (periods[-1] if periods else None)
    return {
        "alias": alias,
        "at": at,
        "period": None if found is None else found.to_dict(),
        "periods": [p.to_dict() for p in periods],
    }


def alias_at(events: list[dict[str, Any]], at: float, alias: str = "champion") -> AliasPeriod | None:
    """The period of ``alias`` that covers time ``at``; None before the first recorded move."""
    for period in reversed(alias_periods(events, alias)):
        if period.since <= at:
            return period
    return None
