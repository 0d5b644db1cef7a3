"""Hour partitions of the prediction and feedback logs: ``dt=YYYY-MM-DD/hour=HH``, UTC.

One place knows the layout, so the writer names partitions and every reader (a drift window, the writer's index at
restart) prunes them the same way: what a read costs grows with the time span it needs, not with the history.

>>> hour_partition(1767225600.0)
'dt=2026-01-01/hour=00'
>>> partition_start("predictions/dt=2026-01-01/hour=05/part-1.parquet")
1767243600.0
>>> hour_overlaps(1767243600.0, since=1767247200.0, until=None)  # 05:00-06:00 ends before 06:00
False
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["HOUR_SECONDS", "hour_dirs", "hour_overlaps", "hour_partition", "partition_start"]

HOUR_SECONDS = 3600.0
_HOUR = re.compile(r"dt=(\d{4}-\d{2}-\d{2})[/\\]hour=(\d{2})")


def hour_partition(timestamp: float) -> str:
    """The partition of a Unix timestamp."""
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return f"dt={moment:%Y-%m-%d}/hour={moment:%H}"


def partition_start(path: str) -> float | None:
    """Unix seconds at which the hour partition named in ``path`` starts; None when ``path`` names none."""
    match = _HOUR.search(path)
    if match is None:
        return None
    start = datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}:00:00").replace(tzinfo=timezone.utc)
    return start.timestamp()


def hour_overlaps(start: float | None, since: float | None, until: float | None) -> bool:
    """Whether the hour starting at ``start`` overlaps ``[since, until)``; an unknown hour always does."""
    if start is None:
        return True
    if since is not None and start + HOUR_SECONDS <= since:
        return False
    return not (until is not None and start >= until)


def hour_dirs(root: Path, since: float | None = None, until: float | None = None) -> list[Path]:
    """The ``dt=*/hour=*`` folders under ``root`` that overlap ``[since, until)``, oldest first.

    Pruned by name at each level (a day outside the span is never listed), so the cost is the span's, not the
    history's.
    """
    day = 86_400.0
    found = []
    for day_dir in sorted(root.glob("dt=*")):
        try:
            day_start = datetime.fromisoformat(day_dir.name[3:]).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
        if (since is not None and day_start + day <= since) or (until is not None and day_start >= until):
            continue
        found += [
            h for h in sorted(day_dir.glob("hour=*")) if hour_overlaps(partition_start(h.as_posix()), since, until)
        ]
    return found
