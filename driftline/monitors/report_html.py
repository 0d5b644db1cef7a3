"""Render a drift report dict as one self-contained HTML page (inline SVG charts, inline CSS, no scripts).

>>> html = render_html({"schema_version": "1.0", "window": {"rows": 0}, "reference": {}, "features": {},
...                     "label_shift": {}, "performance": None, "summary": {}, "timings": {}})
>>> html.startswith("<!doctype html>")
True
"""

from __future__ import annotations

from html import escape
from typing import Any

import numpy as np

__all__ = ["render_html"]

REF_COLOUR, CUR_COLOUR = "#9aa5b1", "#d9480f"
W, H, PAD = 420, 150, 28

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1f2933;max-width:1200px}
h1{margin-bottom:4px} .muted{color:#616e7c;font-size:13px}
.badge{display:inline-block;padding:3px 10px;border-radius:12px;font-weight:600;margin-right:8px;font-size:14px}
.bad{background:#ffe3e3;color:#a61e1e}.ok{background:#e3f9e5;color:#1b5e20}.na{background:#eef0f2;color:#52606d}
table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border-bottom:1px solid #e4e7eb;padding:4px 8px;
text-align:right}th{background:#f5f7fa}td:first-child,th:first-child{text-align:left}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:16px}
.card{border:1px solid #e4e7eb;border-radius:8px;padding:12px}.card h3{margin:0 0 6px 0}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
"""


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1e5 else f"{v:.3e}"
    return escape(str(v))


def _badge(label: str, flag: bool | None) -> str:
    cls = "na" if flag is None else ("bad" if flag else "ok")
    word = "n/a" if flag is None else ("YES" if flag else "no")
    return f'<span class="badge {cls}">{escape(label)}: {word}</span>'


def _numeric_svg(ref: dict[str, Any], cur: dict[str, Any]) -> str:
    edges = np.asarray(ref.get("edges", []), dtype=float)
    if len(edges) < 2 or edges[-1] <= edges[0]:
        return '<p class="muted">no histogram (constant or empty column)</p>'
    widths = np.maximum(np.diff(edges), (edges[-1] - edges[0]) * 1e-9)
    rc, cc = (np.asarray(h["counts"], dtype=float) for h in (ref, cur))
    rd = rc / max(rc.sum(), 1) / widths
    cd = cc / max(cc.sum(), 1) / widths
    top = max(rd.max(), cd.max(), 1e-12)

    def x(v: float) -> float:
        return PAD + (v - edges[0]) / (edges[-1] - edges[0]) * (W - 2 * PAD)

    def y(d: float) -> float:
        return H - PAD + 8 - d / top * (H - PAD - 10)

    def steps(d: np.ndarray) -> str:
        pts = [f"{x(edges[0]):.1f},{y(0):.1f}"]
        for i, v in enumerate(d):
            pts += [f"{x(edges[i]):.1f},{y(v):.1f}", f"{x(edges[i + 1]):.1f},{y(v):.1f}"]
        pts.append(f"{x(edges[-1]):.1f},{y(0):.1f}")
        return " ".join(pts)

    axis = f'<line x1="{PAD}" y1="{y(0):.1f}" x2="{W - PAD}" y2="{y(0):.1f}" stroke="#52606d"/>'
    ticks = "".join(
        f'<text x="{x(v):.1f}" y="{H - 4}" font-size="10" text-anchor="middle">{v:.3g}</text>'
        for v in np.linspace(edges[0], edges[-1], 5)
    )
    return (
        f'<svg width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img">'
        f'<polygon points="{steps(rd)}" fill="{REF_COLOUR}" fill-opacity="0.55" stroke="{REF_COLOUR}"/>'
        f'<polyline points="{steps(cd)}" fill="none" stroke="{CUR_COLOUR}" stroke-width="2"/>{axis}{ticks}</svg>'
    )


def _bars_svg(labels: list[str], series: list[tuple[str, list[float]]]) -> str:
    if not labels:
        return ""
    n_series = len(series)
    group_w = (W - 2 * PAD) / len(labels)
    bar_w = group_w * 0.8 / n_series
    top = max([max(v) for _, v in series if v] + [1e-12])
    colours = [REF_COLOUR, CUR_COLOUR, "#1971c2", "#2f9e44"]
    parts = []
    for gi, label in enumerate(labels):
        gx = PAD + gi * group_w + group_w * 0.1
        for si, (_, values) in enumerate(series):
            h = values[gi] / top * (H - PAD - 14)
            parts.append(
                f'<rect x="{gx + si * bar_w:.1f}" y="{H - PAD - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{colours[si % len(colours)]}"><title>{escape(series[si][0])}: {values[gi]:.4f}</title></rect>'
            )
        parts.append(
            f'<text x="{gx + group_w * 0.4:.1f}" y="{H - PAD + 14}" font-size="10" text-anchor="middle">'
            f"{escape(label[:12])}</text>"
        )
    legend = "".join(
        f'<span style="background:{colours[i % len(colours)]}"></span>{escape(name)}'
        for i, (name, _) in enumerate(series)
    )
    return f'<svg width="{W}" height="{H}" role="img">{"".join(parts)}</svg><div class="legend muted">{legend}</div>'


def _shares(hist: dict[str, Any]) -> list[float]:
    counts = np.asarray(hist.get("counts", []), dtype=float)
    return (counts / max(counts.sum(), 1)).tolist()


def _feature_card(name: str, f: dict[str, Any]) -> str:
    ref, cur = f.get("reference_histogram", {}), f.get("current_histogram", {})
    if f["kind"] == "numeric":
        chart = _numeric_svg(ref, cur) + (
            f'<div class="legend muted"><span style="background:{REF_COLOUR}"></span>reference'
            f'<span style="background:{CUR_COLOUR}"></span>window (density on reference-quantile bins)</div>'
        )
    else:
        chart = _bars_svg(list(ref.get("categories", [])), [("reference", _shares(ref)), ("window", _shares(cur))])
    rows = "".join(
        f"<tr><td>{escape(t)}{' ★' if t == f.get('primary_test') else ''}</td><td>{_fmt(r['statistic'])}</td>"
        f"<td>{_fmt(r.get('p_value'))}</td><td>{_fmt(r['threshold'])}</td><td>{_fmt(r.get('max_error'))}</td>"
        f"<td>{_badge('', r['drifted'])}</td></tr>"
        for t, r in f.get("tests", {}).items()
    )
    table = (
        "<table><tr><th>test</th><th>statistic</th><th>p-value</th><th>threshold</th><th>max error</th>"
        f"<th>drifted</th></tr>{rows}</table>"
        if rows
        else ""
    )
    stats = f.get("stats", {})
    stat_line = " · ".join(
        f"{side}: " + ", ".join(f"{k}={_fmt(v, 3)}" for k, v in vals.items()) for side, vals in stats.items()
    )
    verdict = _badge("drifted", f["drifted"]) if f["testable"] else _badge("not testable", None)
    notes = "".join(f'<p class="muted">{escape(t)}</p>' for t in (f.get("reason"), f.get("note")) if t)
    adj = f.get("p_value_adjusted")
    adj_line = f'<p class="muted">BH-adjusted p of the primary test: {_fmt(adj)}</p>' if adj is not None else ""
    return (
        f'<div class="card"><h3>{escape(name)} <span class="muted">({f["kind"]})</span></h3>{verdict}{notes}'
        f'{chart}{table}{adj_line}<p class="muted">{stat_line}</p></div>'
    )


def _label_panel(ls: dict[str, Any]) -> str:
    ref = ls.get("reference_prior") or {}
    if not ref:
        return "<p class='muted'>No reference label prior in the profile.</p>"
    classes = list(ref)
    series = [("reference", [ref[c] for c in classes])]
    for key, name in (("observed_prior", "observed"), ("predicted_prior", "predicted"), ("estimated_prior", "BBSE")):
        if ls.get(key):
            series.append((name, [ls[key][c] for c in classes]))
    weights = ls.get("class_weights") or {}
    info = (
        f"<p>{_badge('label shift', ls.get('shift_detected'))} total variation {_fmt(ls.get('total_variation'))} "
        f"(threshold {_fmt(ls.get('threshold'))}, prior from: {_fmt(ls.get('prior_source'))}); class weights "
        f"{escape(', '.join(f'{c}: {w:.3f}' for c, w in weights.items())) or '–'}; labelled rows "
        f"{_fmt(ls.get('labelled_rows'))}, predictions {_fmt(ls.get('predicted_rows'))}.</p>"
    )
    return info + _bars_svg(classes, series)


def _second_badge(report: dict[str, Any]) -> str:
    summary = report.get("summary", {})
    if report.get("task") == "regression":
        return _badge("prediction drift", summary.get("prediction_drift"))
    return _badge("label shift", summary.get("label_shift"))


def _label_section(ls: dict[str, Any]) -> str:
    return f"<h2>Label shift</h2>{_label_panel(ls)}"


def _performance_panel(p: dict[str, Any] | None) -> str:
    if not p:
        return "<p class='muted'>No labelled predictions in the window (or no baseline accuracy).</p>"
    if p.get("metrics"):  # regression: RMSE and MAE, each against its baseline
        lines = "".join(
            f"<p>{_badge(name.upper() + ' decay', m['decayed'])} {name.upper()} {_fmt(m['current'])} "
            f"[{_fmt(m['ci_low'])}, {_fmt(m['ci_high'])}] ({p['confidence']:.0%} normal) vs baseline "
            f"{_fmt(m['baseline'])}; one-sided p = {_fmt(m['p_value'])}.</p>"
            for name, m in p["metrics"].items()
        )
        return lines + f"<p class='muted'>{p['n']} labelled rows. {escape(p.get('reason') or '')}</p>"
    realised = (
        f"<p>{_badge('performance decay', p['decayed'])} realised accuracy {_fmt(p['current'])} "
        f"[{_fmt(p['ci_low'])}, {_fmt(p['ci_high'])}] ({p.get('confidence', 0.95):.0%} Wilson) vs baseline "
        f"{_fmt(p['baseline'])}; one-sided p = {_fmt(p['p_value'])} on n = {p['n']} labelled rows.</p>"
        if p.get("current") is not None
        else "<p>Realised accuracy: no labelled rows in the window yet.</p>"
    )
    return (
        realised
        + _estimated_line(p.get("estimated"))
        + (f"<p class='muted'>{escape(p['reason'])}</p>" if p.get("reason") else "")
    )


def _estimated_line(est: dict[str, Any] | None) -> str:
    """Accuracy estimated without labels (CBPE, ATC), beside the realised one."""
    if not est or not est.get("accuracy"):
        return f"<p class='muted'>{escape(est['reason'])}</p>" if est and est.get("reason") else ""
    acc, atc = est["accuracy"], est.get("atc") or {}
    return (
        f"<p>{_badge('estimated decay', est.get('decayed'))} estimated accuracy {_fmt(acc['value'])} "
        f"[{_fmt(acc['ci_low'])}, {_fmt(acc['ci_high'])}] ({escape(str(est.get('method')))}, no labels needed; ATC "
        f"{_fmt(atc.get('value'))}) vs baseline {_fmt(est.get('baseline'))} on {est.get('n')} scored rows.</p>"
    )


def _joint_section(joint: dict[str, Any] | None) -> str:
    """The domain classifier's verdict: can the window's rows be told from the reference's, and by what."""
    if not joint:
        return ""
    if not joint.get("tested"):
        return f"<h2>Joint drift</h2><p class='muted'>{escape(str(joint.get('reason')))}</p>"
    top = ", ".join(f"{escape(t['feature'])} ({t['weight']:.2f})" for t in joint.get("top_features", []))
    return (
        f"<h2>Joint drift</h2><p>{_badge('joint drift', joint['drifted'])} a classifier tells the window's rows from "
        f"the reference's with held-out AUC {_fmt(joint['auc'])} (0.5 = indistinguishable; one-sided p = "
        f"{_fmt(joint['p_value'])}; drift at AUC >= {_fmt(joint['min_auc'])} and p <= {_fmt(joint['alpha'])}), on "
        f"{joint['n_reference']} + {joint['n_window']} sampled rows. What separates them most: {top}.</p>"
    )


def _outputs_section(outputs: dict[str, Any] | None) -> str:
    """Regression: the predictions' and the target's distributions, drawn and tested like numeric features."""
    if not outputs:
        return ""
    cards = "".join(_feature_card(name, entry) for name, entry in outputs.items())
    return f'<h2>Prediction and target drift</h2><div class="grid">{cards}</div>'


def _quality(findings: list[str]) -> str:
    if not findings:
        return ""
    items = "".join(f"<li>{escape(f)}</li>" for f in findings)
    return f"<p>Data quality:</p><ul>{items}</ul>"


def render_html(report: dict[str, Any]) -> str:
    """The whole page for ``report`` (a dict shaped as REPORT_SCHEMA.md)."""
    s, w, ref = report.get("summary", {}), report.get("window", {}), report.get("reference", {})
    features = report.get("features", {})
    order = sorted(features, key=lambda n: (not features[n]["drifted"], not features[n]["testable"], n))
    overview = "".join(
        f"<tr><td>{escape(n)}</td><td>{features[n]['kind']}</td><td>{_fmt(features[n]['primary_test'])}</td>"
        f"<td>{_fmt(features[n]['tests'].get(features[n]['primary_test'], {}).get('statistic'))}</td>"
        f"<td>{_fmt(features[n].get('p_value_adjusted'))}</td>"
        f"<td>{_badge('', features[n]['drifted']) if features[n]['testable'] else _badge('', None)}</td></tr>"
        for n in order
    )
    timings = ", ".join(f"{k} {v:.2f}s" for k, v in report.get("timings", {}).items() if isinstance(v, float))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>driftline drift report</title><style>{CSS}</style></head><body>
<h1>Drift report</h1>
<p class="muted">window {_fmt(w.get("start"))} → {_fmt(w.get("end"))}, {_fmt(w.get("rows"))} rows
({_fmt(w.get("labelled_rows"))} labelled) · reference {_fmt(ref.get("source"))}, {_fmt(ref.get("rows"))} rows ·
schema {_fmt(report.get("schema_version"))}</p>
<p>{_badge("dataset drift", s.get("dataset_drift"))}{_second_badge(report)}
{_badge("performance decay", s.get("performance_decay"))}</p>
<p>Drifted features: <b>{escape(", ".join(s.get("drifted_features", [])) or "none")}</b>
(share {_fmt(s.get("share_drifted"))} of {_fmt(s.get("testable_features"))} testable).</p>
{_quality(s.get("data_quality", []))}
<p class="muted">Verdict rule: {escape(str(s.get("method", "")))}</p>
<h2>Features</h2>
<table><tr><th>feature</th><th>kind</th><th>primary test</th><th>statistic</th><th>adjusted p</th><th>drifted</th></tr>
{overview}</table>
<div class="grid">{"".join(_feature_card(n, features[n]) for n in order)}</div>
{_joint_section(report.get("joint_drift"))}
{_outputs_section(report.get("prediction_drift"))}
{"" if report.get("task") == "regression" else _label_section(report.get("label_shift", {}))}
<h2>Performance</h2>{_performance_panel(report.get("performance"))}
<p class="muted">Timings: {escape(timings)}</p>
</body></html>
"""
