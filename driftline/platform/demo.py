"""``make demo``: the closed loop end to end on one machine, with a live view and a report at the end.

Train a champion on Ray Train, serve it, replay a stream as HTTP traffic with labels arriving one chunk later
through ``/feedback``, and let the control loop analyse, decide, retrain or re-weight, and roll out. Exit 0 only
if the loop detected the shift, produced a candidate (retrain or re-weight), promoted one, and the promoted model
is measurably better than the original champion on fresh data from the new regime.
"""

from __future__ import annotations

import itertools
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from driftline.core.config import REPO_ROOT, DataSource, DriftlineConfig
from driftline.core.net import free_port
from driftline.datasets import generate_stream, load_training_data
from driftline.datasets.schema import as_scalar
from driftline.platform.admin_client import AdminClient
from driftline.platform.control_loop import ControlLoop, ControlLoopConfig

__all__ = ["DemoOutcome", "run_demo"]

CHUNK_ROWS = 400
# Shadow first (every request mirrored), then a canary ramp; sized so the demo's traffic finishes it in seconds.
DEMO_ROLLOUT: dict[str, Any] = {
    "mode": "shadow",
    "shadow": {"fraction": 1.0, "min_requests": 200, "max_error_rate": 0.02, "max_p99_ratio": 5.0, "then_canary": True},
    "canary": {
        "steps": [0.25, 0.5, 1.0],
        "min_requests_per_step": 100,
        "min_seconds_per_step": 2.0,
        "max_p99_latency_ratio": 5.0,
        "min_labelled": 100,
        "max_failed_checks": 1,
    },
}


@dataclass
class DemoOutcome:
    passed: bool
    checks: dict[str, bool]
    accuracy: pd.DataFrame
    timeline: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    report_path: Path | None = None


def demo_config(cfg: DriftlineConfig, scenario: str) -> DriftlineConfig:
    overrides: dict[str, Any] = {
        "serve.admin_token": cfg.serve.admin_token or secrets.token_urlsafe(16),
        "serve.poll_seconds": 0.25,
        "serve.log_flush_seconds": 0.5,
        "serve.shadow_timeout_seconds": 5.0,
        "serve.router.num_cpus": 0.1,
        "serve.model.num_cpus": 0.1,
        "train.cpus_per_worker": 0.5,
        "train.epochs": 6,
        "train.train_rows": 3000,
    }
    if cfg.dataset is not None:  # the user's table: its first 30% trains the champion, the rest is the traffic
        stream, _ = load_training_data(cfg)
        overrides["train.train_rows"] = max(500, int(len(stream) * 0.3))
    elif scenario == "elec2":
        overrides["data.source"] = DataSource.ELEC2.value
    else:
        overrides.update({"data.source": "synthetic", "data.scenario": scenario, "data.n_rows": 16_000})
    return cfg.with_overrides(**overrides)


class _Traffic:
    """Replays rows as single-row HTTP requests (8 in flight); a chunk's labels arrive after the whole chunk."""

    def __init__(self, url: str, features: list[str], label: str) -> None:
        self.url, self.features, self.label = url, features, label
        self.client = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=16))
        self.pool = ThreadPoolExecutor(8)
        self.sent = self.failed = 0
        self.by_variant: dict[str, int] = {}
        self.pending: list[dict[str, Any]] = []

    def _one(self, index: int, row: dict[str, Any]) -> tuple[int, dict[str, Any], str | None]:
        response = self.client.post(
            f"{self.url}/predict", json={"instances": [row]}, headers={"X-User-Id": f"user-{index}"}
        )
        body = response.json() if response.status_code == 200 else {}
        return response.status_code, body, response.headers.get("X-Variant")

    def send(self, chunk: pd.DataFrame) -> None:
        features = chunk[self.features].astype(object)
        rows = features.where(features.notna(), None).to_dict("records")  # a gap is JSON null, never NaN
        results = list(self.pool.map(self._one, chunk.index, rows))
        labels = []
        for (status, body, variant), label in zip(results, chunk[self.label], strict=True):
            self.sent += 1
            if status != 200:
                self.failed += 1
                continue
            self.by_variant[variant or "?"] = self.by_variant.get(variant or "?", 0) + 1
            # The label goes back with the row's feedback token: only who received a prediction may label it.
            labels.append(
                {"request_id": body["request_id"], "token": body["feedback_tokens"][0], "label": as_scalar(label)}
            )
        self.pending = labels
        self.flush_labels()  # labels arrive later than their predictions: after the chunk, before the next tick

    def flush_labels(self) -> None:
        if self.pending:
            self.client.post(f"{self.url}/feedback", json={"items": self.pending}).raise_for_status()
            self.pending = []


def _accuracy_line(report: dict[str, Any] | None) -> str:
    """The latest window's realised accuracy beside the one estimated without labels."""
    perf = (report or {}).get("performance") or {}
    estimated = ((perf.get("estimated") or {}).get("accuracy") or {}).get("value")
    realised = perf.get("current")
    shown = [f"realised {realised:.3f} ({perf.get('n', 0)} labels)" if realised is not None else "realised -"]
    shown.append(f"estimated {estimated:.3f} (no labels)" if estimated is not None else "estimated -")
    return ", ".join(shown)


def _view(
    traffic: _Traffic,
    status: dict[str, Any],
    loop_events: list[dict[str, Any]],
    position: str,
    report: dict[str, Any] | None = None,
) -> Group:
    serving = status.get("serving", {})
    rollout = status.get("rollout") or {}
    head = Table.grid(padding=(0, 2))
    head.add_row("stream", position, "requests", f"{traffic.sent} ({traffic.failed} failed)")
    head.add_row(
        "champion",
        f"v{serving.get('traffic', {}).get('champion_version')}",
        "rollout",
        f"{rollout.get('phase', '-')} v{(rollout.get('spec') or {}).get('candidate_version', '-')} "
        f"weight {rollout.get('candidate_weight', 0):.2f}",
    )
    head.add_row("served by", str(traffic.by_variant), "last window", _accuracy_line(report))
    events = Table(title="timeline (latest)", show_lines=False, expand=True)
    events.add_column("kind", style="cyan", no_wrap=True)
    events.add_column("what")
    for event in loop_events[-8:]:
        events.add_row(event["kind"], event["message"][:160])
    return Group(head, events)


def _fresh_regimes(cfg: DriftlineConfig) -> dict[str, pd.DataFrame]:
    """Fresh samples (another seed) of each regime of the scenario, to score models on data they never saw."""
    if cfg.dataset is not None or cfg.data.source is DataSource.ELEC2:
        stream, _ = load_training_data(cfg)
        tail = stream.iloc[-5000:]
        return {"last 5000 rows": tail}
    frame, truth = generate_stream(cfg.data.scenario, cfg.data.n_rows, seed=cfg.data.seed + 1000)
    bounds = [0, *truth.change_points, len(frame)]
    return {f"regime {i + 1} (rows {a}-{b})": frame.iloc[a:b] for i, (a, b) in enumerate(itertools.pairwise(bounds))}


def run_demo(cfg: DriftlineConfig, console: Console, scenario: str = "concept_then_label") -> DemoOutcome:
    from driftline.model.registry import ModelRegistry
    from driftline.platform.demo_report import accuracy_table, write_report
    from driftline.serve_apps.app import deploy, shutdown
    from driftline.train_jobs.champion import train_champion

    cfg = demo_config(cfg, scenario)
    started = time.monotonic()
    try:
        with console.status("training the champion on Ray Train") as status:
            champion = train_champion(cfg, progress=lambda msg: status.update(msg))
        console.print(f"[green]✓[/] champion v{champion.version.version}: {champion.quality}")
        with console.status("deploying the Serve application"):
            url = deploy(cfg, port=free_port())
        console.print(f"[green]✓[/] serving at {url}")
        loop_cfg = ControlLoopConfig(
            serve_url=url,
            min_window_rows=300,
            settle_seconds=1.0,
            retrain_window_rows=800,
            min_retrain_rows=200,
            rollout=DEMO_ROLLOUT,
            policy_file=REPO_ROOT / "configs" / "demo" / "policy.yaml",
            retrain_file=REPO_ROOT / "configs" / "demo" / "retrain.yaml",
        )
        rollouts = AdminClient(url, cfg.serve.admin_token)
        loop = ControlLoop(cfg, loop_cfg, rollouts)
        stream, schema = load_training_data(cfg)
        replay = stream.iloc[cfg.train.train_rows :]
        traffic = _Traffic(url, list(schema.feature_names), schema.label)
        reports: list[dict[str, Any]] = []
        weights: list[tuple[float, float, str]] = []
        with Live(console=console, refresh_per_second=4) as live:
            position = 0
            extra = 0
            while True:
                if position < len(replay):
                    chunk = replay.iloc[position : position + CHUNK_ROWS]
                    position += len(chunk)
                else:  # stream over; keep the last regime flowing until an active rollout finishes
                    rollout = rollouts.status().get("rollout") or {}
                    if rollout.get("phase") in (None, "PROMOTED", "ROLLED_BACK") or extra >= 15:
                        break
                    chunk = replay.iloc[-CHUNK_ROWS:]
                    extra += 1
                traffic.send(chunk)
                time.sleep(cfg.serve.log_flush_seconds + 1.0)  # let the labels and the log flush land
                result = loop.tick()
                if result.report is not None:
                    reports.append(result.report)
                where = f"row {cfg.train.train_rows + min(position, len(replay))}/{len(stream)}"
                current = rollouts.status()
                traffic_now = current["serving"]["traffic"]
                weights.append((time.time(), traffic_now["candidate_weight"], traffic_now["mode"]))
                latest = reports[-1] if reports else None
                live.update(_view(traffic, current, loop.timeline.read(last=8), where, latest))
        traffic.flush_labels()
        timeline = loop.timeline.read()
        registry = ModelRegistry(cfg)
        promoted = [e["version"] for e in timeline if e["kind"] == "promoted"]
        final = registry.alias_version("champion") or champion.version.version
        versions = [champion.version.version, *promoted]
        accuracy = accuracy_table(registry, versions, _fresh_regimes(cfg))
        checks = {
            "shift detected": any(e["kind"] == "decision" and not e["message"].startswith("skip") for e in timeline),
            "retrained or re-weighted": any(e["kind"] in ("retrain_finished", "reweight_finished") for e in timeline),
            "candidate promoted": bool(promoted) and final != champion.version.version,
            "promoted model better on new data": _better(accuracy, champion.version.version, final),
            "no failed user requests": traffic.failed == 0,
        }
        notes = _cost_notes(timeline, accuracy)
        out = cfg.workdir_path / "demo"
        seconds = time.monotonic() - started
        report_path = write_report(out, cfg, timeline, reports, weights, accuracy, checks, notes, seconds)
        return DemoOutcome(all(checks.values()), checks, accuracy, timeline, notes, reports, report_path)
    finally:
        with console.status("shutting down Serve and Ray"):
            shutdown()


def _cost_notes(timeline: list[dict[str, Any]], accuracy: pd.DataFrame) -> list[str]:
    """What each fix cost and bought: retrain vs re-weight seconds, accuracy before/after on the newest regime."""
    notes = []
    retrains = [e["evidence"].get("seconds", 0.0) for e in timeline if e["kind"] == "retrain_finished"]
    promoted = {e["version"] for e in timeline if e["kind"] == "promoted"}
    last = accuracy.columns[-1] if not accuracy.empty else None
    for event in timeline:
        if event["kind"] != "reweight_finished" or event["evidence"]["version"] not in promoted or last is None:
            continue
        version = event["evidence"]["version"]
        parent = event["message"].split(" = v")[1].split(" ")[0]
        before, after = accuracy.get(last, {}).get(f"v{parent}"), accuracy.get(last, {}).get(f"v{version}")
        cost = f"{event['evidence']['seconds']:.1f}s"
        if retrains:
            cost += f" vs {sum(retrains) / len(retrains):.1f}s for a retrain on Ray Train"
        if before is not None and after is not None:
            notes.append(
                f"label-shift fix v{version} (re-weighted v{parent}): accuracy on {last} {before:.3f} -> "
                f"{after:.3f}, cost {cost}"
            )
    for version in sorted(promoted, key=int):
        row = f"v{version}"
        if last is not None and row in accuracy.index:
            notes.append(f"promoted v{version}: accuracy on {last} = {accuracy.loc[row, last]:.3f}")
    return notes


def _better(accuracy: pd.DataFrame, first: str, final: str) -> bool:
    """The final champion beats the first on the newest regime with a one-sided two-proportion test at 5%."""
    from driftline.core.stats import two_proportion

    if first == final or accuracy.empty:
        return False
    last = accuracy.columns[-1]
    n = int(accuracy.attrs["rows"][last])
    a, b = accuracy.loc[f"v{first}", last], accuracy.loc[f"v{final}", last]
    test = two_proportion(round(a * n), n, round(b * n), n)
    return bool(b > a and test.p_value / 2 < 0.05)
