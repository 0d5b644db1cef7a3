"""A progress line for long jobs over a table: what it does, the rows done so far, the time taken."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["row_progress"]


@contextmanager
def row_progress(doing: str, console: Console) -> Iterator[Callable[[int], None]]:
    """Show ``doing`` with a row count while the block runs; yields the callback that takes the rows done."""
    columns = [TextColumn(doing), BarColumn(), TextColumn("{task.completed:,} rows"), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(doing, total=None)
        yield lambda rows: bar.update(task, completed=rows)
