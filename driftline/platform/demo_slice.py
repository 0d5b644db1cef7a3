"""The thin end-to-end slice as a demo: train -> register -> serve -> predict over HTTP -> shut down."""

from __future__ import annotations

import httpx
from rich.console import Console
from rich.table import Table

from driftline.core.config import DriftlineConfig
from driftline.core.net import free_port
from driftline.datasets import load_training_data

__all__ = ["run_slice_demo"]


def run_slice_demo(cfg: DriftlineConfig, console: Console, n_requests: int = 8) -> None:
    from driftline.serve_apps.app import deploy, shutdown
    from driftline.train_jobs.champion import train_champion

    try:
        with console.status("training the champion on Ray Train") as status:
            result = train_champion(cfg, progress=lambda msg: status.update(msg))
        console.print(
            f"[green]✓[/] champion = {result.version.name} v{result.version.version}, "
            f"{result.quality} ({result.seconds:.1f}s)"
        )
        with console.status("deploying the Serve application"):
            url = deploy(cfg, port=free_port())
        console.print(f"[green]✓[/] serving at {url} (docs at {url}/docs)")
        stream, schema = load_training_data(cfg)
        rows = stream.iloc[cfg.train.train_rows : cfg.train.train_rows + n_requests]
        body = {"instances": rows[list(schema.feature_names)].to_dict("records")}
        response = httpx.post(f"{url}/predict", json=body, timeout=30)
        response.raise_for_status()
        answer = response.json()
        table = Table(title=f"POST /predict -> {response.status_code}, model v{response.headers['X-Model-Version']}")
        for name in (*schema.feature_names, "prediction", "p(class 1)", "label"):
            table.add_column(name)
        for (_, row), pred, proba in zip(rows.iterrows(), answer["predictions"], answer["probabilities"], strict=True):
            cells = [f"{row[n]:.3f}" if isinstance(row[n], float) else str(row[n]) for n in schema.feature_names]
            table.add_row(*cells, str(pred), f"{proba[-1]:.3f}", str(row[schema.label]))
        console.print(table)
        console.print(f"request id {response.headers['X-Request-Id']}, variant {response.headers['X-Variant']}")
    finally:
        with console.status("shutting down Serve and Ray"):
            shutdown()
    console.print("[green]✓[/] shut down cleanly")
