"""The feedback journal: an acknowledged label is on disk (fsynced) before ``/feedback`` answers 200.

Labels are buffered for the hourly Parquet log; until a flush has written them there, they live in an append-only
JSON-lines journal. A flush first *seals* the live file (renames it), writes the buffer to Parquet, then discards
the sealed files; a crash anywhere in between leaves the labels in a journal file, and the writer replays every
journal file at start (labels already in the Parquet log are skipped, so nothing is counted twice). A torn last
line (a crash mid-append, before the answer went out) is skipped and counted.

>>> import tempfile
>>> journal = FeedbackJournal(tempfile.mkdtemp())
>>> journal.append([{"request_id": "r1", "row": 0, "timestamp": 1.0, "label": 1}])
>>> sealed = journal.seal()
>>> [r["request_id"] for r in journal.replay()[0]]
['r1']
>>> journal.discard(sealed); journal.replay()
([], 0)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from driftline.core.fs import fsync_dir

__all__ = ["FeedbackJournal"]

_LIVE = "feedback.journal"


class FeedbackJournal:
    """Append (fsynced), seal, discard and replay the label journal in ``folder``."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.live = self.folder / _LIVE
        self._sealed_seq = max((self._seq(p) for p in self.folder.glob(f"{_LIVE}.*")), default=0)

    @staticmethod
    def _seq(path: Path) -> int:
        suffix = path.name.rsplit(".", 1)[-1]
        return int(suffix) if suffix.isdigit() else 0

    def append(self, records: list[dict[str, Any]]) -> None:
        """Durably append ``records``; raises ``OSError`` (e.g. a full disk) with nothing half-acknowledged."""
        if not records:
            return
        text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        with open(self.live, "a", encoding="utf-8") as fh:
            start = fh.tell()
            try:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            except OSError:
                fh.truncate(start)  # leave no partial line behind a refused label
                raise

    def seal(self) -> list[Path]:
        """Close the live file for a flush; returns every sealed file the flush will make redundant."""
        if self.live.exists() and self.live.stat().st_size:
            self._sealed_seq += 1
            os.replace(self.live, self.folder / f"{_LIVE}.{self._sealed_seq}")
            fsync_dir(self.folder)
        return sorted(self.folder.glob(f"{_LIVE}.*"), key=self._seq)

    def discard(self, sealed: list[Path]) -> None:
        """After their labels are in the Parquet log."""
        for path in sealed:
            path.unlink(missing_ok=True)
        fsync_dir(self.folder)

    def replay(self) -> tuple[list[dict[str, Any]], int]:
        """Every journalled label, oldest first, and how many torn or unreadable lines were skipped."""
        records: list[dict[str, Any]] = []
        skipped = 0
        files = sorted(self.folder.glob(f"{_LIVE}.*"), key=self._seq) + ([self.live] if self.live.exists() else [])
        for path in files:
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    record = json.loads(line)
                    records.append({k: record[k] for k in ("request_id", "row", "timestamp", "label")})
                except (ValueError, KeyError, TypeError):
                    skipped += 1
        return records, skipped
