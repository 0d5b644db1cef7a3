"""``driftline labels``: load labels from the table they live in (see ``label_import.py``).

driftline labels import --data chargebacks.parquet --id order_id --label is_fraud [--time labelled_at] [--model NAME]
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from driftline.platform.row_progress import row_progress

__all__ = ["labels_app"]

console = Console(stderr=True)
labels_app = typer.Typer(help="Labels from where they live: a table joined to predictions by business key.")


@labels_app.command("import")
def import_(
    data: Annotated[str, typer.Option("--data", help="The labels: Parquet or CSV file, folder, glob or URI.")],
    id_column: Annotated[str, typer.Option("--id", help="The business key column (the model's dataset.id).")],
    label: Annotated[str, typer.Option("--label", help="The label column.")],
    time_column: Annotated[
        str | None,
        typer.Option("--time", help="When each label became true: it joins the latest prediction before it."),
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="One model of the app's serve.models.")] = None,
    url: Annotated[str, typer.Option("--url", help="Base URL of the Serve app.")] = "http://127.0.0.1:8000",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=10_000, help="Labels per call.")] = 1_000,
) -> None:
    """Import a table of labels by business key: streamed, durable before it reports, idempotent."""
    from driftline.platform.label_import import HttpFeedbackSink, import_labels
    from driftline.serve_apps.admin import resolve_admin_token, resolve_labeller_token

    sink = HttpFeedbackSink(url, resolve_labeller_token(None) or resolve_admin_token(None), model)
    with row_progress("importing labels", console) as progress:
        report = import_labels(
            data, id_column, label, sink, time_column=time_column, batch_size=batch_size, progress=progress
        )
    console.print(report.summary(), soft_wrap=True)
    for problem in report.problems:
        console.print(f"  bad value: {problem}")
