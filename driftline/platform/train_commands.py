"""The ``driftline retrain`` and ``driftline backtest`` commands; ``register(app)`` adds them to the CLI.

driftline retrain --window-rows 6000:8000 --trigger "accuracy decayed"
driftline backtest --stream elec2 --policies never,periodic,triggered,continual --out out/elec2
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from driftline.core.errors import ConfigError

__all__ = ["register"]

console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add ``retrain`` and ``backtest`` to ``app`` (the lead's CLI calls this once)."""
    app.command(name="retrain")(retrain)
    app.command(name="backtest")(backtest)


def retrain(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="driftline YAML config.")] = None,
    workdir: Annotated[Path | None, typer.Option("--workdir", help="Work folder (env DRIFTLINE_WORKDIR).")] = None,
    retrain_config: Annotated[Path | None, typer.Option("--retrain-config", help="Retrain YAML.")] = None,
    window: Annotated[Path | None, typer.Option(help="Parquet file/folder of labelled rows.")] = None,
    window_rows: Annotated[str | None, typer.Option(help="START:END rows of the configured stream.")] = None,
    older: Annotated[Path | None, typer.Option(help="Parquet of older data (replay + forgetting gate).")] = None,
    trigger: Annotated[str, typer.Option(help="Why this retrain runs (lineage tag).")] = "manual",
    drift_report_run: Annotated[str | None, typer.Option(help="MLflow run id of the drift report.")] = None,
    executor: Annotated[str | None, typer.Option(help="ray | local (overrides the retrain config).")] = None,
) -> None:
    """Warm-start retrain from the champion, gate it, register it; alias 'candidate' only if the gates pass."""
    from driftline.train_jobs.retrain import main

    if (window is None) == (window_rows is None):
        raise typer.BadParameter("give exactly one of --window PATH or --window-rows START:END")
    argv = ["--window", str(window)] if window is not None else ["--window-rows", str(window_rows)]
    for flag, value in (
        ("--config", config),
        ("--workdir", workdir),
        ("--retrain-config", retrain_config),
        ("--older", older),
        ("--drift-report-run", drift_report_run),
        ("--executor", executor),
    ):
        if value is not None:
            argv += [flag, str(value)]
    raise typer.Exit(main([*argv, "--trigger", trigger]))


def backtest(
    stream: Annotated[
        str | None,
        typer.Option(help="dataset (your table, the default with a dataset: config), elec2, or a synthetic scenario."),
    ] = None,
    policies: Annotated[str, typer.Option(help="Comma list of never,periodic,triggered,continual.")] = (
        "never,periodic,triggered,continual"
    ),
    variants: Annotated[str, typer.Option(help="Comma list of cold,warm,warm+replay.")] = "cold,warm,warm+replay",
    out: Annotated[Path, typer.Option(help="Output folder for backtest.json/.md/.png.")] = Path("backtest-out"),
    retrain_config: Annotated[Path | None, typer.Option("--retrain-config", help="Retrain YAML.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="driftline YAML (Elec2 path, seed).")] = None,
    n_rows: Annotated[int, typer.Option(help="Rows of a synthetic stream.")] = 20_000,
) -> None:
    """Replay a stream test-then-train under each policy x variant (local executor); write JSON, table and plot."""
    from driftline.core.config_loader import load_config
    from driftline.platform.backtest import load_backtest_stream, run_backtest
    from driftline.platform.backtest_report import markdown_table, write_backtest
    from driftline.train_jobs.retrain_config import load_retrain_config

    cfg = load_config(config)
    rcfg = load_retrain_config(retrain_config)
    stream = stream or ("dataset" if cfg.dataset is not None else "elec2")
    if stream == "dataset":
        from driftline.datasets import load_training_data
        from driftline.platform.backtest import BacktestStream

        if cfg.dataset is None:
            raise ConfigError("--stream", "stream", stream, "a config with a dataset: section (driftline init)")
        frame, schema = load_training_data(cfg)
        data = BacktestStream(Path(str(cfg.dataset.path)).name, frame.reset_index(drop=True), schema)
    else:
        data = load_backtest_stream(
            stream,
            n_rows=n_rows,
            seed=cfg.data.seed,
            causal_features=rcfg.backtest.causal_features,
            elec2_path=str(cfg.data.resolved_elec2_path()),
        )
    names = [p.strip() for p in policies.split(",") if p.strip()]
    kinds = [v.strip() for v in variants.split(",") if v.strip()]
    with console.status(f"backtesting {len(names)} policies x {len(kinds)} variants on {data.name}"):
        rows = run_backtest(data, names, kinds, rcfg, with_baselines=True)
    metric = "rmse" if data.schema.is_regression else "accuracy"
    path = write_backtest(rows, out, f"{data.name}: {metric} per window", data.change_points)
    print(markdown_table(rows))
    console.print(f"[green]wrote[/] {path}, {out / 'backtest.png'}")
    summary = {r["policy"] + "/" + r["variant"]: round(r[metric], 4) for r in rows}
    console.print(json.dumps(summary))
