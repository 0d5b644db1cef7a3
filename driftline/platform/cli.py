"""The ``driftline`` command line: train, serve, and the end-to-end demo (more commands join as parts land).

Every command takes ``--config FILE`` (default: the embedded single-machine defaults) and ``--workdir DIR``
(default ``./.driftline`` or ``$DRIFTLINE_WORKDIR``).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from driftline.core.config import DriftlineConfig
from driftline.core.config_loader import load_config
from driftline.core.errors import DriftlineError
from driftline.core.net import free_port

__all__ = ["app", "main"]

app = typer.Typer(
    name="driftline",
    help="Keep ML models healthy in production: drift monitoring, retraining and safe rollout on Ray.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="driftline YAML config (default: embedded local defaults).")
]
WorkdirOpt = Annotated[
    Path | None, typer.Option("--workdir", help="Work folder for MLflow, logs and state (env DRIFTLINE_WORKDIR).")
]


def _config(config: Path | None, workdir: Path | None, **overrides: Any) -> DriftlineConfig:
    return load_config(config, workdir=workdir, overrides={k: v for k, v in overrides.items() if v is not None})


def _version(show: bool) -> None:
    if show:
        from driftline import __version__

        print(f"driftline {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Keep ML models healthy in production: drift monitoring, retraining and safe rollout on Ray."""


@app.command()
def init(
    data: Annotated[str, typer.Option("--data", help="Your table: Parquet or CSV file, folder, glob or URI.")],
    label: Annotated[str, typer.Option("--label", help="The column to predict.")],
    task: Annotated[str | None, typer.Option(help="binary | multiclass | regression (default: inferred).")] = None,
    family: Annotated[str, typer.Option(help="Model family: mlp | torch | xgboost | pyfunc.")] = "mlp",
    uri: Annotated[str | None, typer.Option(help="pyfunc family: your MLflow model, models:/NAME/VERSION.")] = None,
    factory: Annotated[
        str | None, typer.Option(help="torch family: your network factory, mypkg.nets:build(n_in, n_out).")
    ] = None,
    timestamp: Annotated[str | None, typer.Option(help="Time-order column (default: row order).")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="A column that is not a feature (repeatable).")] = None,
    id_column: Annotated[
        str | None,
        typer.Option("--id", help="The business key column (order id, ...): sent with requests, labels join on it."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Config file to write.")] = Path("driftline.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out.")] = False,
) -> None:
    """Inspect your table, print each column's inferred kind and why, and write a config for it."""
    from driftline.platform.init_command import check_family, config_text, inspect_table, write_config

    check_family(family)
    with console.status(f"reading {data}"):
        dataset, inferred = inspect_table(
            data, label, task=task, timestamp=timestamp, exclude=exclude, id_column=id_column
        )
    for note in inferred.notes:
        console.print(f"  {escape(note)}")
    text = config_text(dataset, family, len(inferred.frame), factory, uri)
    write_config(out, text, force=force)
    console.print(
        f"[green]wrote[/] {out}: {inferred.task.value}, {len(inferred.schema.features)} features, "
        f"{len(inferred.frame):,} rows. Next: driftline train{'' if out.name == 'driftline.yaml' else f' -c {out}'}"
    )


@app.command()
def train(config: ConfigOpt = None, workdir: WorkdirOpt = None) -> None:
    """Train a champion on Ray Train, register it in MLflow and set its alias to 'champion'."""
    from driftline.train_jobs.champion import train_champion

    cfg = _config(config, workdir)
    with console.status("training champion") as status:
        result = train_champion(cfg, progress=lambda msg: status.update(msg))
    console.print(
        f"[green]registered[/] {result.version.name} version {result.version.version} as champion: "
        f"{result.quality} on {result.val_rows} rows ({result.seconds:.1f}s)"
    )
    console.print(f"MLflow: {cfg.tracking_uri}")


@app.command()
def serve(
    config: ConfigOpt = None,
    workdir: WorkdirOpt = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (default from config; 0 = any free port).")] = None,
) -> None:
    """Serve the champion over HTTP (POST /predict, GET /healthz, /docs) until SIGTERM or Ctrl-C."""
    from driftline.serve_apps.app import deploy, shutdown

    cfg = _config(config, workdir)
    stop = threading.Event()
    with console.status("starting Ray Serve"):
        url = deploy(cfg, port=free_port() if port == 0 else port)
    # After ray.init, which installs a handler that kills the process on SIGTERM: ours shuts everything down.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    console.print(f"[green]serving[/] {url}/predict  (docs: {url}/docs); Ctrl-C to stop")
    try:
        stop.wait()
    finally:
        with console.status("shutting down Serve and Ray"):
            shutdown()
            left = _reap_children()
        console.print(f"stopped{f' ({left} leftover Ray processes ended)' if left else ''}")


def _reap_children(grace_seconds: float = 10.0) -> int:
    """End the processes this one started that outlived ``ray.shutdown()`` (Ray's agents can linger): SIGTERM,
    then SIGKILL after ``grace_seconds``. Returns how many there were."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=grace_seconds)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    return len(children)


@app.command()
def demo(
    config: ConfigOpt = None,
    workdir: WorkdirOpt = None,
    scenario: Annotated[
        str, typer.Option(help="Synthetic scenario (default: concept drift, then a label shift) or 'elec2'.")
    ] = "concept_then_label",
    data: Annotated[
        str | None, typer.Option(help="Your table instead of a scenario (with --label): 30% trains, the rest replays.")
    ] = None,
    label: Annotated[str | None, typer.Option(help="The label column of --data.")] = None,
) -> None:
    """The closed loop end to end: train, serve, replay a stream with delayed labels, let driftline adapt.

    Exits 0 only if the shift was detected, a candidate was retrained or re-weighted, promoted, and is
    measurably better than the original champion on fresh data from the new regime.
    """
    from driftline.platform.demo import run_demo

    cfg = _config(config, workdir)
    if data is not None:
        from driftline.platform.init_command import inspect_table

        if label is None:
            raise typer.BadParameter("--data needs --label COLUMN")
        dataset, inferred = inspect_table(data, label)
        for note in inferred.notes:
            console.print(f"  {escape(note)}")
        cfg = cfg.with_overrides(dataset=dataset.model_dump(mode="json"))
    outcome = run_demo(cfg, console, scenario)
    table = Table(title="accuracy of each champion on fresh data from each regime")
    table.add_column("version")
    for name in outcome.accuracy.columns:
        table.add_column(str(name))
    for version, row in outcome.accuracy.iterrows():
        table.add_row(str(version), *(f"{v:.3f}" for v in row))
    console.print(table)
    for event in outcome.timeline:
        if event["kind"] not in ("window_analysed",):
            console.print(f"[cyan]{event['kind']:>18}[/] {event['message'][:220]}")
    for note in outcome.notes:
        console.print(f"• {note}")
    for name, ok in outcome.checks.items():
        console.print(f"{'[green]✓' if ok else '[red]✗'}[/] {name}")
    console.print(f"report: {outcome.report_path}")
    raise typer.Exit(0 if outcome.passed else 1)


@app.command()
def slice(config: ConfigOpt = None, workdir: WorkdirOpt = None) -> None:
    """The thin slice only: train, serve, send one batch, print the answers, shut down."""
    from driftline.platform.demo_slice import run_slice_demo

    run_slice_demo(_config(config, workdir), console)


@app.command()
def run(
    config: ConfigOpt = None,
    workdir: WorkdirOpt = None,
    loop_config: Annotated[Path | None, typer.Option("--loop-config", help="configs/loop.yaml-shaped file.")] = None,
    ticks: Annotated[int, typer.Option(help="Stop after this many ticks (0 = run until Ctrl-C).")] = 0,
) -> None:
    """Run the control loop on a schedule against a running Serve app: analyse, decide, retrain, roll out."""
    from driftline.core.config_loader import load_yaml_model
    from driftline.core.ray_runtime import ensure_ray
    from driftline.platform.admin_client import AdminClient
    from driftline.platform.control_loop import ControlLoop, ControlLoopConfig
    from driftline.serve_apps.admin import resolve_admin_token

    cfg = _config(config, workdir)
    lcfg = load_yaml_model(loop_config, ControlLoopConfig) if loop_config else ControlLoopConfig()
    ensure_ray(cfg)
    loop = ControlLoop(cfg, lcfg, AdminClient(lcfg.serve_url, resolve_admin_token(cfg.serve.admin_token)))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    done = 0
    while not stop.is_set():
        result = loop.tick()
        done += 1
        console.print(f"tick {done}: {result.action}: {result.reason[:200]}")
        if ticks and done >= ticks:
            break
        stop.wait(lcfg.interval_seconds)


@app.command()
def timeline(
    config: ConfigOpt = None,
    workdir: WorkdirOpt = None,
    last: Annotated[int, typer.Option(help="Show only the last N events (0 = all).")] = 0,
    model: Annotated[
        str | None, typer.Option(help="Registered model whose timeline to print (default: mlflow.model_name).")
    ] = None,
) -> None:
    """Print a model's audit timeline: windows analysed, decisions, retrains, gates, rollout transitions."""
    from driftline.core.state_db import model_state
    from driftline.core.timeline import Timeline

    cfg = _config(config, workdir)
    if model:
        cfg = cfg.with_overrides(**{"mlflow.model_name": model})
    for event in Timeline(model_state(cfg)).read(last=last or None):
        stamp = datetime.fromtimestamp(event["time"], tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        console.print(f"{stamp} [cyan]{event['kind']:>18}[/] {event['message']}")


@app.command()
def drift(
    reference: Annotated[str, typer.Option(help="Parquet path or models:/NAME@ALIAS (its stored profile).")],
    current: Annotated[str, typer.Option(help="Parquet file or folder (e.g. <workdir>/logs/predictions).")],
    out: Annotated[Path, typer.Option(help="Folder for report.json and report.html.")],
    config: ConfigOpt = None,
    workdir: WorkdirOpt = None,
    drift_config: Annotated[Path | None, typer.Option("--drift-config", help="configs/drift.yaml-shaped file.")] = None,
    feedback: Annotated[Path | None, typer.Option(help="Feedback log (labels joined on request_id).")] = None,
    engine: Annotated[str, typer.Option(help="memory | ray")] = "memory",
) -> None:
    """Drift report of a window against a reference (same as python -m driftline.monitors.drift_job)."""
    from driftline.monitors.drift_job import run_drift_job

    cfg = _config(config, workdir)
    report = run_drift_job(
        reference, current, out, config=cfg, drift_config=drift_config, feedback=feedback, engine=engine
    )
    summary = report["summary"]
    console.print(
        f"drifted features: {summary['drifted_features'] or 'none'}; dataset drift: {summary['dataset_drift']} "
        f"({escape(summary['method'])}); report: {out / 'report.html'}"
    )
    perf = report.get("performance")
    if perf and perf.get("current") is not None:
        scored = f" (scored with {report['window']['scored_by']})" if report["window"].get("scored_by") else ""
        console.print(
            f"{perf['metric']}: {perf['current']:.3f} vs baseline {perf['baseline']:.3f} on {perf['n']} labelled "
            f"rows{scored}; decayed: {perf['decayed']} (p={perf['p_value']:.3g})"
        )
    estimated = ((perf or {}).get("estimated") or {}).get("accuracy") or {}
    if estimated.get("value") is not None:
        console.print(
            f"estimated accuracy without labels: {estimated['value']:.3f} "
            f"[{estimated['ci_low']:.3f}, {estimated['ci_high']:.3f}] ({perf['estimated']['method']})"  # type: ignore[index]
        )


rollout_app = typer.Typer(help="Start, inspect, promote or abort a rollout through the Serve app's admin API.")
app.add_typer(rollout_app, name="rollout")
UrlOpt = Annotated[str, typer.Option("--url", help="Base URL of the Serve app.")]


def _admin(url: str) -> Any:
    from driftline.platform.admin_client import AdminClient
    from driftline.serve_apps.admin import resolve_admin_token

    return AdminClient(url, resolve_admin_token(None))


def _show(body: dict[str, Any]) -> None:
    import json

    console.print_json(json.dumps(body))


@rollout_app.command("start")
def rollout_start(
    candidate: Annotated[str, typer.Option(help="Registered model version to roll out.")],
    mode: Annotated[str, typer.Option(help="shadow | ab | canary")] = "canary",
    spec: Annotated[Path | None, typer.Option(help="YAML RolloutSpec (mode and settings) instead of flags.")] = None,
    url: UrlOpt = "http://127.0.0.1:8000",
    force: Annotated[
        bool, typer.Option("--force", help="Roll out a version whose offline gates failed (on the timeline).")
    ] = False,
) -> None:
    """Start a rollout of a version that passed its offline gates (needs DRIFTLINE_ADMIN_TOKEN)."""
    import yaml

    body = yaml.safe_load(spec.read_text()) if spec else {"mode": mode}
    body["candidate_version"] = candidate
    _show(_admin(url).start(body, force=force))


@rollout_app.command("status")
def rollout_status(url: UrlOpt = "http://127.0.0.1:8000") -> None:
    """Show the rollout and serving state (open to read)."""
    _show(_admin(url).status())


@rollout_app.command("promote")
def rollout_promote(url: UrlOpt = "http://127.0.0.1:8000") -> None:
    """Promote the candidate now (needs DRIFTLINE_ADMIN_TOKEN)."""
    _show(_admin(url).promote())


@rollout_app.command("abort")
def rollout_abort(url: UrlOpt = "http://127.0.0.1:8000") -> None:
    """Abort: all traffic back to the champion (needs DRIFTLINE_ADMIN_TOKEN)."""
    _show(_admin(url).abort())


def _register_part_commands() -> None:
    from driftline.platform.dataset_commands import datasets_app
    from driftline.platform.history_command import history
    from driftline.platform.label_commands import labels_app
    from driftline.platform.score_command import score
    from driftline.platform.train_commands import register

    register(app)
    app.command(name="history")(history)
    app.command(name="score")(score)
    app.add_typer(datasets_app, name="datasets")
    app.add_typer(labels_app, name="labels")


_register_part_commands()


def main() -> None:
    """Console entry point: driftline errors print as one clear line and exit 2."""
    try:
        app()
    except DriftlineError as err:
        console.print(f"[red]error:[/] {escape(str(err))}")
        raise SystemExit(2) from None
