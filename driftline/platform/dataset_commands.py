"""``driftline datasets``: write the project's seeded streams as tables of your own, to try driftline on a file.

driftline datasets export concept_drift --rows 0:6000 --classes no,yes --out train.csv
driftline datasets export concept_drift --rows 6000:12000 --classes no,yes --out later.parquet
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from driftline.core.errors import DataError

__all__ = ["datasets_app", "export_stream"]

console = Console(stderr=True)
datasets_app = typer.Typer(help="The project's seeded streams with known shifts, as CSV or Parquet tables.")


def export_stream(
    scenario: str,
    out: Path,
    *,
    rows: str | None = None,
    classes: str | None = None,
    n_rows: int = 20_000,
    seed: int = 7,
) -> int:
    """Write rows ``START:END`` of a synthetic scenario to ``out`` (``.csv`` or ``.parquet``); ``classes`` renames
    the label's 0, 1, ... (``no,yes``). Returns the rows written."""
    from driftline.datasets import SCENARIOS, generate_stream

    if scenario not in SCENARIOS:
        raise DataError(f"Unknown scenario {scenario!r}.", f"Pick one of {sorted(SCENARIOS)}.")
    frame, truth = generate_stream(scenario, n_rows=n_rows, seed=seed)
    if rows:
        try:
            start, end = (int(part) for part in rows.split(":"))
        except ValueError:
            raise DataError(f"--rows {rows!r} is not START:END.", "Use e.g. --rows 0:6000.") from None
        frame = frame.iloc[start:end]
    if classes and scenario.startswith("regression"):
        raise DataError(f"{scenario} has a numeric target; --classes names classes.", "Drop --classes.")
    if classes:
        names = [c.strip() for c in classes.split(",")]
        if len(names) != frame["y"].nunique() and len(names) != 2:
            raise DataError(f"--classes {classes!r} names {len(names)} classes.", "Name one per class: no,yes.")
        frame = frame.assign(y=[names[int(v)] for v in frame["y"]])
    if out.suffix == ".csv":
        frame.to_csv(out, index=False)
    elif out.suffix in (".parquet", ".pq"):
        frame.to_parquet(out, index=False)
    else:
        raise DataError(f"--out {out} is neither .csv nor .parquet.", "Name the file my.csv or my.parquet.")
    console.print(f"[green]wrote[/] {escape(str(out))}: {len(frame):,} rows of {scenario}; {escape(truth.description)}")
    return len(frame)


@datasets_app.command("export")
def export(
    scenario: Annotated[str, typer.Argument(help="stationary, covariate_shift, label_shift, concept_drift, ...")],
    out: Annotated[Path, typer.Option(help="my.csv or my.parquet")],
    rows: Annotated[str | None, typer.Option(help="START:END rows of the stream (default: all).")] = None,
    classes: Annotated[str | None, typer.Option(help="Names for the label's classes, e.g. no,yes.")] = None,
    n_rows: Annotated[int, typer.Option(help="Length of the stream.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Seed of the stream.")] = 7,
) -> None:
    """Write a seeded stream with a known shift (see its description) as a table of your own."""
    export_stream(scenario, out, rows=rows, classes=classes, n_rows=n_rows, seed=seed)
