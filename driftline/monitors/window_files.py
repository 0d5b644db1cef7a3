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

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq

__all__ = ["WindowFiles", "window_files"]

_HOUR = re.compile(r"dt=(\d{4}-\d{2}-\d{2})[/\\]hour=(\d{2})")
_HOUR_US = 3600 * 1_000_000


@dataclass(frozen=True)
class WindowFiles:
    paths: list[str]
    skipped: list[str] = field(default_factory=list)  # unreadable files left out


def _hour_start_us(relative: str) -> int | None:
    match = _HOUR.search(relative)
    if match is None:
        return None
    start = datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}:00:00").replace(tzinfo=timezone.utc)
    return round(start.timestamp() * 1_000_000)


def _overlaps(start_us: int | None, since_us: int | None, until_us: int | None) -> bool:
    if start_us is None:
        return True  # not an hour partition: cannot prune it
    if since_us is not None and start_us + _HOUR_US <= since_us:
        return False
    return not (until_us is not None and start_us >= until_us)


def window_files(path: str | Path, since_us: int | None = None, until_us: int | None = None) -> WindowFiles:
    """The readable Parquet files of ``path`` whose hour partition overlaps ``[since, until)``."""
    if "://" in str(path) or not Path(path).is_dir():
        return WindowFiles([str(path)])
    root = Path(path)
    paths, skipped = [], []
    for file in sorted(root.rglob("*.parquet")):
        relative = file.relative_to(root).as_posix()
        if any(part.startswith((".", "_")) for part in file.relative_to(root).parts):
            continue  # temp files of an atomic write, Spark/Hive markers
        if not _overlaps(_hour_start_us(relative), since_us, until_us):
            continue
        try:
            pq.read_metadata(file)
        except Exception:  # torn, truncated or not Parquet at all
            skipped.append(str(file))
            continue
        paths.append(str(file))
    return WindowFiles(paths, skipped)
