"""``driftline history``: which version held an alias at a time, since when and why, read from the timeline
(MLflow keeps no history of aliases; ``core/alias_history.py`` reads the recorded moves)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["history"]

console = Console(stderr=True)


def _stamp(t: float | None) -> str:
    return "now" if t is None else datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def history(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="driftline YAML config (default: embedded local defaults).")
    ] = None,
    workdir: Annotated[
        Path | None, typer.Option("--workdir", help="Work folder for MLflow, logs and state (env DRIFTLINE_WORKDIR).")
    ] = None,
    at: Annotated[
        str | None, typer.Option(help="A time (ISO 8601, UTC, or Unix seconds); default: every period.")
    ] = None,
    alias: Annotated[str, typer.Option(help="The alias to follow.")] = "champion",
    model: Annotated[
        str | None, typer.Option(help="Registered model whose history to read (default: mlflow.model_name).")
    ] = None,
) -> None:
    """Which version was champion (or another alias) at a time, since when and why (MLflow keeps no alias history)."""
    from driftline.core.alias_history import history_answer, parse_time
    from driftline.core.config_loader import load_config
    from driftline.core.state_db import model_state
    from driftline.core.timeline import Timeline

    cfg = load_config(config, workdir=workdir, overrides={"mlflow.model_name": model} if model else None)
    when = parse_time(at) if at is not None else None
    answer = history_answer(Timeline(model_state(cfg)).read(), alias, when)
    if when is not None:
        period = answer["period"]
        if period is None:
            console.print(f"no version held {alias} at {escape(_stamp(when))} (no recorded move before it)")
            raise typer.Exit(1)
        console.print(
            f"v{period['version']} was {alias} at {_stamp(when)}: since {_stamp(period['since'])}"
            f"{'' if period['until'] is None else ', until ' + _stamp(period['until'])}, "
            f"because {escape(period['reason'] or 'no reason recorded')}"
        )
        return
    if not answer["periods"]:
        console.print(f"no recorded move of {alias} yet (moves are recorded from this driftline version on)")
    for period in answer["periods"]:
        console.print(
            f"{_stamp(period['since'])} -> {_stamp(period['until'])}  v{period['version']}  "
            f"{escape(period['reason'] or '')}"
        )
