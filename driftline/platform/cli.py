"""The ``driftline`` command line: train, serve, and the end-to-end demo (more commands join as parts land).

Every command takes ``--config FILE`` (default: the embedded single-machine defaults) and ``--workdir DIR``
(default ``./.driftline`` or ``$DRIFTLINE_WORKDIR``).
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from driftline.platform.config import DriftlineConfig
from driftline.platform.config_loader import load_config
from driftline.platform.errors import DriftlineError

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


@app.command()
def train(config: ConfigOpt = None, workdir: WorkdirOpt = None) -> None:
    """Train a champion on Ray Train, register it in MLflow and set its alias to 'champion'."""
    from driftline.train_jobs.champion import train_champion

    cfg = _config(config, workdir)
    with console.status("training champion") as status:
        result = train_champion(cfg, progress=lambda msg: status.update(msg))
    console.print(
        f"[green]registered[/] {result.version.name} version {result.version.version} as champion: "
        f"validation accuracy {result.val_accuracy:.3f} on {result.val_rows} rows ({result.seconds:.1f}s)"
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
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with console.status("starting Ray Serve"):
        url = deploy(cfg, port=_free_port() if port == 0 else port)
    console.print(f"[green]serving[/] {url}/predict  (docs: {url}/docs); Ctrl-C to stop")
    try:
        stop.wait()
    finally:
        with console.status("shutting down Serve and Ray"):
            shutdown()
        console.print("stopped")


@app.command()
def demo(
    config: ConfigOpt = None,
    workdir: WorkdirOpt = None,
    requests: Annotated[int, typer.Option(help="Rows to send to the served champion.")] = 8,
) -> None:
    """Train a champion, serve it on a free port, send a batch of requests, print the answers, shut down."""
    from driftline.platform.demo_slice import run_slice_demo

    run_slice_demo(_config(config, workdir), console, requests)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    """Console entry point: driftline errors print as one clear line and exit 2."""
    try:
        app()
    except DriftlineError as err:
        console.print(f"[red]error:[/] {err}")
        raise SystemExit(2) from None
