"""Which files a drift window reads: only the hour partitions it needs, and never an unreadable one.

A prediction log is partitioned ``dt=YYYY-MM-DD/hour=HH``; a window with ``since``/``until`` lists only the hours
that overlap it, so its cost grows with the window, not with the history on disk. Each listed file's Parquet
footer is read (a few hundred bytes); a torn or corrupt file is left out and reported, never fatal. Remote URIs
and single files are passed through unchanged.

>>> import tempfile, pathlib, pyarrow as pa, pyarrow.parquet as pq
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> for hour in ("00", "05"):
...     (root / f"dt=2026-01-01/hour={hour}").mkdir(parents=True)
...     pq.write_table(pa.table({"x": [1.0]}), root / f"dt=2026-01-01/hour={hour}/part-0.parquet")
>>> found = window_files(root, since_us=1767225600_000000 + 4 * 3600_000000)
>>> [pathlib.Path(p).parent.name for p in found.paths], found.skipped
(['hour=05'], [])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq

from driftline.core.errors import DataError
from driftline.core.partitions import hour_dirs

__all__ = ["WindowFiles", "to_micros", "window_files"]


@dataclass(frozen=True)
class WindowFiles:
    paths: list[str]
    skipped: list[str] = field(default_factory=list)  # unreadable files left out


def to_micros(when: str | datetime | None) -> int | None:
    """ISO string or datetime (naive means UTC) to microseconds since the epoch."""
    if when is None:
        return None
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            raise DataError(f"Timestamp {when!r} is not ISO 8601.", "Use e.g. 2024-05-01T12:00:00Z.") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return round(when.timestamp() * 1_000_000)


def window_files(path: str | Path, since_us: int | None = None, until_us: int | None = None) -> WindowFiles:
    """The readable Parquet files of ``path`` whose hour partition overlaps ``[since, until)``."""
    if "://" in str(path) or not Path(path).is_dir():
        return WindowFiles([str(path)])
    root = Path(path)
    since = None if since_us is None else since_us / 1e6
    until = None if until_us is None else until_us / 1e6
    hours = hour_dirs(root, since, until)
    if hours or any(root.glob("dt=*")):  # a partitioned log: list only the hours the window needs
        candidates = [f for hour in hours for f in sorted(hour.glob("*.parquet"))]
    else:  # any other folder of Parquet files
        candidates = sorted(root.rglob("*.parquet"))
    paths, skipped = [], []
    for file in candidates:
        if any(part.startswith((".", "_")) for part in file.relative_to(root).parts):
            continue  # temp files of an atomic write, Spark/Hive markers
        try:
            pq.read_metadata(file)
        except Exception:  # torn, truncated or not Parquet at all
            skipped.append(str(file))
            continue
        paths.append(str(file))
    return WindowFiles(paths, skipped)
