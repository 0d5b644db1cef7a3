"""What the retrain policy reads from a drift report: which triggers fired, on which numbers, and the evidence.

Pure: the report arrives typed (:class:`~driftline.monitors.report_schema.DriftReport`, or its JSON form, parsed
here), nothing is read by string keys, and every trigger leaves a sentence either in ``fired`` or in ``quiet``.

>>> from driftline.platform.policy_config import TriggerConfig
>>> sig = read_signals({"performance": {"baseline": 0.9, "current": 0.7, "p_value": 1e-4}}, False, TriggerConfig())
>>> list(sig.fired), round(sig.benefit, 2)
(['performance'], 0.2)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from driftline.monitors.report_schema import (
    DriftReport,
    LabelShiftSection,
    PerformanceSection,
    SummarySection,
)
from driftline.platform.policy_config import TriggerConfig

__all__ = ["LOWER_IS_BETTER", "Signals", "read_signals"]

# Metrics where a larger value is worse; for these the decay is current - baseline.
LOWER_IS_BETTER = frozenset({"rmse", "mae", "mse", "log_loss", "error_rate"})
# Error metrics in the target's own units: their decay is relative to the baseline (0.2 = 20% worse), so one
# performance_drop means the same for a target in euros or in millimetres.
RELATIVE_METRICS = frozenset({"rmse", "mae", "mse"})


@dataclass
class Signals:
    evidence: dict[str, Any] = field(default_factory=dict)
    fired: dict[str, str] = field(default_factory=dict)  # trigger name -> description, in check order
    quiet: list[str] = field(default_factory=list)  # descriptions of triggers that did not fire
    missing: list[str] = field(default_factory=list)
    benefit: float | None = None  # measured expected gain of a retrain
    class_weights: dict[str, float] | None = None


def read_signals(
    report: DriftReport | dict[str, Any] | None, detector_fired: bool, cfg: TriggerConfig, new_labelled_rows: int = 0
) -> Signals:
    """Every trigger's verdict on ``report`` (None: no report yet), a latched streaming-detector alarm, and whether a
    champion that learnt from few rows is due a refresh (``new_labelled_rows`` since its retrain)."""
    sig = Signals()
    if report is None:
        sig.missing.append("report")
    else:
        typed = DriftReport.parse(report)
        _read_performance(typed.performance, cfg, sig)
        _read_estimated(typed.performance, cfg, sig)
        _read_refresh(typed.performance, cfg, new_labelled_rows, sig)
        _read_drift(typed.summary, cfg, sig)
        _read_label_shift(typed.label_shift, cfg, sig)
        if typed.window is not None:
            w = typed.window
            sig.evidence["window"] = {"start": w.start, "end": w.end, "rows": w.rows, "labelled_rows": w.labelled_rows}
    sig.evidence["detector_fired"] = detector_fired
    if cfg.detector and detector_fired:
        sig.fired["detector"] = "a streaming error-rate detector fired"
    return sig


def _read_performance(perf: PerformanceSection | None, cfg: TriggerConfig, sig: Signals) -> None:
    if perf is None or perf.baseline is None or perf.current is None:
        sig.missing.append("performance")
        return
    metric, baseline, current, p_value = perf.metric or "accuracy", perf.baseline, perf.current, perf.p_value
    ci_low, ci_high = perf.ci_low, perf.ci_high
    chosen = (perf.model_extra or {}).get("metrics", {}).get(cfg.performance_metric or "")
    if isinstance(chosen, dict) and chosen.get("baseline") is not None and chosen.get("current") is not None:
        metric, baseline, current = cfg.performance_metric or metric, chosen["baseline"], chosen["current"]
        p_value, ci_low, ci_high = chosen.get("p_value"), chosen.get("ci_low"), chosen.get("ci_high")
    if metric in RELATIVE_METRICS:
        drop = (current - baseline) / baseline if baseline > 0 else 0.0
    else:
        drop = current - baseline if metric in LOWER_IS_BETTER else baseline - current
    significant = p_value <= cfg.significance if p_value is not None else perf.decayed
    sig.benefit = drop
    sig.evidence["performance"] = {
        "metric": metric,
        "baseline": baseline,
        "current": current,
        "drop": drop,
        "p_value": p_value,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "n": perf.n,
        "significant": significant,
    }
    change = f"{metric} {'decayed' if drop > 0 else 'moved'} {baseline:.2f} -> {current:.2f}"
    if metric in RELATIVE_METRICS:
        change += f" ({drop:+.0%})"
    sig_text = f"p={p_value:.3g}" if p_value is not None else f"report decayed={perf.decayed}"
    if cfg.performance_drop is None:
        sig.quiet.append(f"{change} (performance trigger off)")
    elif drop >= cfg.performance_drop and significant:
        size = (
            f"rise {drop:.0%} >= {cfg.performance_drop:.0%}"
            if metric in RELATIVE_METRICS
            else f"drop {drop:.2f} >= {cfg.performance_drop:.2f}"
        )
        sig.fired["performance"] = f"{change} ({size}, {sig_text})"
    elif drop >= cfg.performance_drop:
        sig.quiet.append(f"{change} but not significantly ({sig_text}, need p <= {cfg.significance:g})")
    else:
        sig.quiet.append(f"{change} (drop {drop:.2f} < {cfg.performance_drop:.2f})")


def _read_estimated(perf: PerformanceSection | None, cfg: TriggerConfig, sig: Signals) -> None:
    """Accuracy estimated without labels (CBPE): fires before any label arrives, when asked to."""
    est = perf.estimated if perf is not None else None
    acc = est.accuracy if est is not None else None
    if est is None or acc is None or acc.value is None or acc.ci_high is None or est.baseline is None:
        return
    text = (
        f"estimated accuracy {acc.value:.2f} [{acc.ci_low or 0.0:.2f}, {acc.ci_high:.2f}] vs baseline "
        f"{est.baseline:.2f} ({est.method}, before labels)"
    )
    gap = est.baseline - acc.ci_high
    sig.evidence["estimated_performance"] = {
        "method": est.method,
        "estimate": acc.value,
        "ci_low": acc.ci_low,
        "ci_high": acc.ci_high,
        "baseline": est.baseline,
        "n": est.n,
    }
    if sig.benefit is None:  # no labels yet: the estimated drop is the best measure of what a retrain could gain
        sig.benefit = est.baseline - acc.value
    if cfg.estimated_drop is None:
        sig.quiet.append(f"{text} (estimated-performance trigger off)")
    elif gap >= cfg.estimated_drop:
        sig.fired["estimated_performance"] = f"{text}: its upper end is {gap:.2f} below (>= {cfg.estimated_drop:.2f})"
    else:
        sig.quiet.append(f"{text}: upper end {gap:.2f} below the baseline (< {cfg.estimated_drop:.2f})")


def _read_refresh(perf: PerformanceSection | None, cfg: TriggerConfig, new_rows: int, sig: Signals) -> None:
    trained = perf.baseline_trained_rows if perf is not None else None
    if cfg.refresh_below_rows is None or trained is None or trained >= cfg.refresh_below_rows:
        return
    need = int(cfg.refresh_factor * trained)
    sig.evidence["refresh"] = {"trained_rows": trained, "new_labelled_rows": new_rows, "needed": need}
    if new_rows >= need:
        sig.fired["refresh"] = (
            f"the champion learnt from only {trained} rows (< {cfg.refresh_below_rows}) and {new_rows} new labelled "
            f"rows (>= {need}) have arrived since"
        )
    else:
        sig.quiet.append(f"refresh of a {trained}-row retrain waits for labelled rows: {new_rows} of {need}")


def _read_drift(summary: SummarySection | None, cfg: TriggerConfig, sig: Signals) -> None:
    if summary is None:
        sig.missing.append("summary")
        return
    share, dataset_drift, drifted = summary.share_drifted, summary.dataset_drift, summary.drifted_features
    sig.evidence["drift"] = {
        "share_drifted": share,
        "dataset_drift": dataset_drift,
        "drifted_features": drifted[:20],
        "n_drifted_features": len(drifted),
        "method": summary.method,
    }
    share_text = f"share of drifted features {share:.2f}" if share is not None else "share of drifted features n/a"
    by_share = cfg.drift_share is not None and share is not None and share >= cfg.drift_share
    by_flag = cfg.dataset_drift and dataset_drift
    by_joint = cfg.joint_drift and summary.joint_drift
    sig.evidence["drift"]["joint_drift"] = summary.joint_drift
    if by_share or by_flag or by_joint:
        parts = [f"{share_text} >= {cfg.drift_share:.2f}"] if by_share else []
        parts += [f"dataset drift ({summary.method or 'report verdict'})"] if by_flag else []
        parts += ["joint drift (a classifier tells the window's rows from the reference's)"] if by_joint else []
        sig.fired["drift"] = " and ".join(parts)
    else:
        limit = f" < {cfg.drift_share:.2f}" if cfg.drift_share is not None and share is not None else ""
        sig.quiet.append(f"{share_text}{limit}, no dataset drift" if not dataset_drift else f"{share_text}{limit}")


def _read_label_shift(shift: LabelShiftSection | None, cfg: TriggerConfig, sig: Signals) -> None:
    if shift is None:
        sig.missing.append("label_shift")
        return
    tv, reference = shift.total_variation, shift.reference_prior or {}
    estimated = shift.estimated_prior or shift.observed_prior
    weights = shift.class_weights
    if not weights and estimated and reference:
        weights = {k: estimated.get(k, 0.0) / p for k, p in reference.items() if p > 0}
    sig.class_weights = dict(weights) if weights else None
    sig.evidence["label_shift"] = {
        "total_variation": tv,
        "shift_detected": shift.shift_detected,
        "reference_prior": reference or None,
        "estimated_prior": estimated,
        "class_weights": sig.class_weights,
    }
    if tv is None:
        sig.quiet.append("label shift not estimated")
    elif cfg.label_shift_tv is not None and tv >= cfg.label_shift_tv:
        sig.fired["label_shift"] = f"label prior moved by total variation {tv:.2f} >= {cfg.label_shift_tv:.2f}"
    else:
        sig.quiet.append(f"label prior total variation {tv:.2f}")
