"""Files, written so that a reader sees the old content or the new, never half of it.

:func:`atomic_write` is the one atomic write in driftline: the content goes to a temp file in the target's folder,
is fsynced, renamed over the target, and the folder is fsynced so the rename itself survives a crash.
:class:`FileSystem` is the narrow interface state stores use, so a shared filesystem can be plugged in;
:class:`LocalFileSystem` is the local-disk implementation.

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "state.json"
>>> LocalFileSystem().write_text_atomic(str(target), '{"revision": 1}')
>>> target.read_text()
'{"revision": 1}'
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

__all__ = ["FileSystem", "LocalFileSystem", "atomic_write", "fsync_dir"]


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Make a rename or a new file in ``folder`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(target: str | os.PathLike[str], write: Callable[[str], object]) -> None:
    """Call ``write(temp_path)`` to produce the content, then fsync and rename it onto ``target``.

    On any failure the temp file is removed and ``target`` is left as it was.
    """
    path = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


class FileSystem(Protocol):
    """The file operations the state stores need; paths are strings ('/' separated)."""

    def read_text(self, path: str) -> str | None:
        """The file's text, or None when it does not exist."""
        ...

    def write_text_atomic(self, path: str, text: str) -> None:
        """Replace the file's content so readers see the old or the new text, never a mix."""
        ...

    def append_text(self, path: str, text: str) -> None: ...

    def makedirs(self, path: str) -> None: ...

    def remove(self, path: str) -> None:
        """Delete the file if it exists."""
        ...


class LocalFileSystem:
    """Local disk: :func:`atomic_write` for replacements, fsynced appends."""

    def read_text(self, path: str) -> str | None:
        try:
            return Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def write_text_atomic(self, path: str, text: str) -> None:
        atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))

    def append_text(self, path: str, text: str) -> None:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    def makedirs(self, path: str) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)

    def remove(self, path: str) -> None:
        Path(path).unlink(missing_ok=True)
        fsync_dir(Path(path).parent)
