"""The demo's ``report.html``: accuracy over time per variant, drift per feature over time, traffic weights over
time, the accuracy of every champion on every regime, and the decision timeline. Self-contained (inline PNGs)."""

from __future__ import annotations

import base64
import html
import io
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from driftline.core.config import DriftlineConfig
from driftline.core.paths import logs_dir

__all__ = ["accuracy_table", "write_report"]


def accuracy_table(registry: Any, versions: list[str], regimes: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Accuracy of each version (rows) on each regime's fresh sample (columns)."""
    from driftline.train_jobs.evaluate import evaluate

    table = pd.DataFrame(index=[f"v{v}" for v in versions], columns=list(regimes), dtype=float)
    for version in versions:
        bundle, _ = registry.load_bundle(f"models:/{registry.name}/{version}")
        for name, frame in regimes.items():
            table.loc[f"v{version}", name] = evaluate(bundle, frame).accuracy
    table.attrs["rows"] = {name: len(frame) for name, frame in regimes.items()}
    return table


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return f'<img src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}"/>'


def _accuracy_plot(cfg: DriftlineConfig, events: list[dict[str, Any]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from driftline.serve_apps.prediction_log import FEEDBACK, PREDICTIONS, ParquetSink

    sink = ParquetSink(logs_dir(cfg.workdir_path))
    preds, labels = sink.read(PREDICTIONS), sink.read(FEEDBACK, columns=["request_id", "row", "label"])
    fig, ax = plt.subplots(figsize=(10, 3.5))
    if not preds.empty and not labels.empty:
        joined = preds.merge(labels, on=["request_id", "row"]).sort_values("timestamp")
        joined["correct"] = (joined["prediction"] == joined["label"]).astype(float)
        for (variant, role), part in joined.groupby(["variant", "role"]):
            rolling = part.set_index("timestamp")["correct"].rolling(200, min_periods=50).mean()
            ax.plot(rolling.index, rolling.values, label=f"{variant} ({role})", lw=1.2)
    for event in events:
        if event["kind"] in ("promoted", "rolled_back", "retrain_finished", "reweight_finished"):
            ax.axvline(datetime.fromtimestamp(event["time"], tz=timezone.utc), color="grey", ls=":", lw=0.8)
    ax.set_ylabel("accuracy (rolling 200)")
    ax.set_title("Accuracy over time per variant (dotted: retrain / re-weight / promotion / rollback)")
    ax.legend(loc="lower left", fontsize=8)
    return _png(fig)


def _drift_plot(reports: list[dict[str, Any]]) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.5))
    series: dict[str, list[float]] = {}
    for report in reports:
        for name, feature in report["features"].items():
            js = feature.get("tests", {}).get("jensen_shannon", {}).get("statistic")
            series.setdefault(name, []).append(float("nan") if js is None else js)
    for name, values in series.items():
        ax.plot(range(1, len(values) + 1), values, marker=".", label=name)
    shift = [(r.get("label_shift") or {}).get("total_variation") or 0.0 for r in reports]
    ax.plot(range(1, len(shift) + 1), shift, "k--", label="label prior TV (BBSE)")
    ax.set_xlabel("analysed window")
    ax.set_ylabel("Jensen-Shannon distance")
    ax.set_title("Drift per feature over time, and the estimated label shift")
    ax.legend(fontsize=8, ncol=4)
    return _png(fig)


def _estimate_plot(reports: list[dict[str, Any]]) -> str:
    """Per analysed window: realised accuracy (from the labels that arrived) and the estimate made without them."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.2))
    realised, estimated, low, high = [], [], [], []
    for report in reports:
        perf = report.get("performance") or {}
        est = (perf.get("estimated") or {}).get("accuracy") or {}
        realised.append(float("nan") if perf.get("current") is None else perf["current"])
        value = est.get("value")
        estimated.append(float("nan") if value is None else value)
        low.append(float("nan") if est.get("ci_low") is None else est["ci_low"])
        high.append(float("nan") if est.get("ci_high") is None else est["ci_high"])
    x = range(1, len(reports) + 1)
    ax.fill_between(x, low, high, color="tab:orange", alpha=0.2, label="estimate's 95% interval")
    ax.plot(x, estimated, marker=".", color="tab:orange", label="estimated without labels (CBPE)")
    ax.plot(x, realised, marker=".", color="tab:blue", label="realised (labels that arrived)")
    ax.set_xlabel("analysed window")
    ax.set_ylabel("accuracy")
    ax.set_title("Estimated vs realised accuracy per window (no label-free estimate sees a change of P(y|x))")
    ax.legend(fontsize=8, loc="lower left")
    return _png(fig)


def _weights_plot(weights: list[tuple[float, float, str]]) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 2.5))
    if weights:
        times = [datetime.fromtimestamp(t, tz=timezone.utc) for t, _, _ in weights]
        ax.step(times, [w for _, w, _ in weights], where="post", label="candidate weight")
        ax.fill_between(
            times,
            0,
            [1.0 if m == "shadow" else 0.0 for _, _, m in weights],
            step="post",
            alpha=0.15,
            label="shadow (mirrored, not served)",
        )
    ax.set_ylim(-0.05, 1.05)
    ax.set_title("Traffic to the candidate over time")
    ax.legend(fontsize=8)
    return _png(fig)


def _source(cfg: DriftlineConfig) -> str:
    if cfg.dataset is not None:
        return f"your table {cfg.dataset.path}"
    return f"{cfg.data.source.value} {cfg.data.scenario}"


def write_report(
    out: Path,
    cfg: DriftlineConfig,
    timeline: list[dict[str, Any]],
    reports: list[dict[str, Any]],
    weights: list[tuple[float, float, str]],
    accuracy: pd.DataFrame,
    checks: dict[str, bool],
    notes: list[str],
    seconds: float,
) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    rows = "".join(
        f"<tr><td>{datetime.fromtimestamp(e['time'], tz=timezone.utc):%H:%M:%S}</td><td>{html.escape(e['kind'])}</td>"
        f"<td>{html.escape(e['message'])}</td></tr>"
        for e in timeline
    )
    verdicts = "".join(f"<li>{'✅' if ok else '❌'} {html.escape(name)}</li>" for name, ok in checks.items())
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>driftline demo</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ddd;padding:4px 8px;font-size:13px;vertical-align:top}}</style></head><body>
<h1>driftline demo: {html.escape(_source(cfg))}</h1>
<p>{seconds:.0f} s end to end. Exit criteria:</p><ul>{verdicts}</ul>
<h2>Accuracy of each champion on fresh data from each regime</h2>{accuracy.round(3).to_html()}
<ul>{"".join(f"<li>{html.escape(n)}</li>" for n in notes)}</ul>
<h2>Accuracy over time</h2>{_accuracy_plot(cfg, timeline)}
<h2>Estimated and realised accuracy</h2>{_estimate_plot(reports)}
<h2>Drift over time</h2>{_drift_plot(reports)}
<h2>Traffic weights</h2>{_weights_plot(weights)}
<h2>Decision timeline</h2><table><tr><th>time (UTC)</th><th>event</th><th>what and why</th></tr>{rows}</table>
</body></html>"""
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
