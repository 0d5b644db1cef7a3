"""``driftline score``: batch predictions on Ray Data, logged like served ones (see ``serve_apps/batch_score.py``).

driftline score --data preds-in/ --out preds-out/ [--model NAME] [--candidate shadow|ab --share 0.2]
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from driftline.platform.row_progress import row_progress

__all__ = ["score"]

console = Console(stderr=True)


def score(
    data: Annotated[str, typer.Option("--data", help="The table to score: Parquet or CSV file, folder, glob or URI.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the answers (and _rejects/ for refused rows).")],
    model: Annotated[
        str | None, typer.Option("--model", help="Registered model to score with (default: mlflow.model_name).")
    ] = None,
    candidate: Annotated[
        str, typer.Option("--candidate", help="none | shadow | ab: what the 'candidate' alias does in the job.")
    ] = "none",
    share: Annotated[float, typer.Option("--share", help="ab: the candidate's share of rows (by id).")] = 0.1,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Rows per model call.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="driftline YAML config.")] = None,
    workdir: Annotated[Path | None, typer.Option("--workdir", help="Work folder (env DRIFTLINE_WORKDIR).")] = None,
) -> None:
    """Score a table with the champion on Ray Data; write the answers, the rejects and the prediction log."""
    from driftline.core.config_loader import load_config
    from driftline.core.errors import ConfigError
    from driftline.serve_apps.batch_score import CandidateUse, score_table

    overrides = {"mlflow.model_name": model} if model else {}
    cfg = load_config(config, workdir=workdir, overrides=overrides)
    try:
        use = CandidateUse(candidate)
    except ValueError:
        raise ConfigError("--candidate", "candidate", candidate, "none | shadow | ab") from None
    with row_progress("scoring", console) as progress:
        summary = score_table(cfg, data, out, use=use, share=share, batch_size=batch_size, progress=progress)
    console.print(summary.line(), soft_wrap=True)
    if summary.rejected:
        console.print(f"  rejected rows, with their reasons: {out / '_rejects'}")
