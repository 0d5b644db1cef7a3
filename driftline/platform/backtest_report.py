"""Views of a backtest: ``backtest.json`` (the source), a markdown table, and the accuracy-over-time plot.

>>> rows = [{"policy": "never", "variant": "cold", "accuracy": 0.68, "retrains": 0, "train_seconds": 1.0}]
>>> print(markdown_table(rows).splitlines()[2])
| never | cold | 0.6800 | 0 | 1.0 |
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["markdown_table", "plot_backtest", "write_backtest"]

_COLORS = {"never": "tab:gray", "periodic": "tab:blue", "triggered": "tab:red", "continual": "tab:green"}
_STYLES = {"cold": ":", "warm": "--", "warm+replay": "-"}


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """One line per row: policy, variant, prequential accuracy (regression: RMSE and MAE), retrains, training s."""
    if rows and "rmse" in rows[0]:
        lines = ["| policy | variant | RMSE | MAE | retrains | train s |", "|---|---|---|---|---|---|"]
        for r in rows:
            lines.append(
                f"| {r['policy']} | {r['variant']} | {r['rmse']:.4f} | {r['mae']:.4f} | {r['retrains']} | "
                f"{r['train_seconds']:.1f} |"
            )
        return "\n".join(lines)
    lines = ["| policy | variant | accuracy | retrains | train s |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['policy']} | {r['variant']} | {r['accuracy']:.4f} | {r['retrains']} | {r['train_seconds']:.1f} |"
        )
    return "\n".join(lines)


def plot_backtest(rows: list[dict[str, Any]], out: Path, title: str, change_points: list[int] | None = None) -> Path:
    """Accuracy per window over time, one line per policy x variant, retrain moments marked with dots."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 5.5))
    metric = "rmse" if rows and "rmse" in rows[0] else "accuracy"
    for r in rows:
        series = r.get(f"{metric}_over_time") or []
        if not series or r.get("note"):
            continue
        x = [p[0] for p in series]
        y = [p[1] for p in series]
        color = _COLORS.get(r["policy"], "black")
        ax.plot(x, y, _STYLES.get(r["variant"], "-"), color=color, lw=1.1, label=f"{r['policy']} / {r['variant']}")
        at = set(r.get("retrain_at") or [])
        if at and len(at) < len(x):  # every-window retrains would only paint the line
            marks = [(xi, yi) for xi, yi in zip(x, y, strict=True) if xi in at]
            ax.plot([m[0] for m in marks], [m[1] for m in marks], "o", color=color, ms=3.5)
    for r in rows:
        if r["policy"] == "baseline":
            ax.axhline(r[metric], color="black", lw=0.8, ls="-." if "previous" in r["variant"] else (0, (1, 3)))
            ax.annotate(f"{r['variant']} {r[metric]:.3f}", (0.01, r[metric]), xycoords=("axes fraction", "data"))
    for cp in change_points or []:
        ax.axvline(cp, color="purple", lw=1.5, alpha=0.6)
    ax.set_xlabel("row (end of window)")
    ax.set_ylabel(f"{'RMSE' if metric == 'rmse' else 'accuracy'} in window (test-then-train)")
    ax.set_title(title + "  (dots: retrains/updates; purple: true change points)")
    ax.legend(fontsize=7, ncol=2, loc="lower left")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def write_backtest(
    rows: list[dict[str, Any]], out_dir: Path, title: str, change_points: list[int] | None = None
) -> Path:
    """Write ``backtest.json``, ``backtest.md`` and ``backtest.png`` into ``out_dir``; returns the JSON path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "backtest.json"
    path.write_text(json.dumps(rows, indent=1))
    (out_dir / "backtest.md").write_text(markdown_table(rows) + "\n")
    plot_backtest(rows, out_dir / "backtest.png", title, change_points)
    return path
