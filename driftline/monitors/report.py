"""The one kernel: (reference profile, window summary, drift config) -> the report dict (REPORT_SCHEMA.md).

Engines only build summaries; everything numeric in the report comes from here, so the in-memory and Ray Data
engines cannot disagree except through the summaries themselves.

>>> import numpy as np, pandas as pd
>>> from driftline.datasets.schema import DatasetSchema, FeatureKind, FeatureSpec
>>> from driftline.monitors.drift_config import DriftConfig
>>> from driftline.monitors.profile import build_reference_profile
>>> from driftline.monitors.engine_memory import summarize_frame
>>> rng = np.random.default_rng(0)
>>> schema = DatasetSchema((FeatureSpec("x", FeatureKind.NUMERIC),), label="y", classes=(0, 1))
>>> prof = build_reference_profile(pd.DataFrame({"x": rng.normal(size=5000)}), schema, n_bins=100)
>>> rep = build_report(prof, summarize_frame(pd.DataFrame({"x": rng.normal(1, 1, 2000)}), prof), DriftConfig())
>>> rep["summary"]["drifted_features"], rep["summary"]["dataset_drift"]
(['x'], True)
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np

from driftline.core.errors import ConfigError, DataError
from driftline.core.json_safe import listing_non_finite
from driftline.datasets.schema import FeatureKind, FeatureSpec
from driftline.monitors.drift_config import Correction, DriftConfig
from driftline.monitors.joint_drift import joint_drift_section
from driftline.monitors.label_shift import label_shift_section
from driftline.monitors.performance import performance_section, regression_performance_section
from driftline.monitors.profile import ReferenceProfile
from driftline.monitors.report_schema import REPORT_SCHEMA_VERSION
from driftline.monitors.stattests.base import OTHER, TestResult, coarse_edge_index
from driftline.monitors.stattests.registry import get_stat_test
from driftline.monitors.summaries import CategoricalSummary, NumericSummary, WindowSummary
from driftline.monitors.window import PROBABILITIES

__all__ = ["DISPLAY_BINS", "REPORT_SCHEMA_VERSION", "benjamini_hochberg", "build_report"]

DISPLAY_BINS = 20  # reference-quantile groups shown per numeric feature
DISPLAY_CATEGORIES = 20


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """BH-adjusted p-values, as scipy's ``false_discovery_control(p, method="bh")`` (an empty input gives an empty
    output): the p-value of rank i times n / i, made monotone from the largest down, capped at 1."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0:
        return p
    order = np.argsort(p)
    scaled = p[order] * p.size / np.arange(1, p.size + 1)
    adjusted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    out = np.empty_like(adjusted)
    out[order] = adjusted
    return out


_NON_FINITE_WHY = (
    "on this window (a singular matrix, an empty class, a constant column or too few rows): reported as null"
)


def _iso(us: int | None) -> str | None:
    return None if us is None else datetime.fromtimestamp(us / 1e6, tz=timezone.utc).isoformat()


def _num_stats(s: NumericSummary) -> dict[str, Any]:
    ok = s.n > 0
    return {
        "n": s.n,
        "mean": s.mean if ok else None,
        "std": s.std if ok else None,
        "min": s.min if ok else None,
        "max": s.max if ok else None,
        "nan": s.n_nan,
        "inf": s.n_inf,
    }


def _num_histograms(ref: NumericSummary, cur: NumericSummary) -> tuple[dict[str, Any], dict[str, Any]]:
    idx = coarse_edge_index(ref, DISPLAY_BINS)
    starts = np.concatenate([[0], idx + 1])
    lo = min(ref.min, cur.min) if cur.n else ref.min
    hi = max(ref.max, cur.max) if cur.n else ref.max
    edges = [float(lo), *ref.edges[idx].tolist(), float(hi)] if ref.n else []
    rc = np.add.reduceat(ref.counts, starts).tolist() if ref.n else []
    cc = np.add.reduceat(cur.counts, starts).tolist() if ref.n else []
    return {"edges": edges, "counts": rc}, {"edges": edges, "counts": cc}


def _cat_histograms(ref: CategoricalSummary, cur: CategoricalSummary) -> tuple[dict[str, Any], dict[str, Any]]:
    top = sorted(ref.counts, key=lambda c: -ref.counts[c])[:DISPLAY_CATEGORIES]
    rc = [ref.counts[c] for c in top]
    cc = [cur.counts.get(c, 0) for c in top]
    cats = [*top, OTHER]
    rc.append(ref.n - sum(rc))
    cc.append(cur.n - sum(cc))
    return {"categories": cats, "counts": rc}, {"categories": cats, "counts": cc}


def _untestable_reason(spec: FeatureSpec, ref: Any, cur: Any, min_rows: int) -> str | None:
    if ref.n < min_rows:
        return f"reference has {ref.n} usable values (< min_rows={min_rows})"
    if spec.kind is FeatureKind.NUMERIC and (ref.std == 0 or ref.min == ref.max):
        return f"reference column is constant (= {ref.min!r}): distribution tests are undefined"
    if cur.n < min_rows:
        bad = f"; {cur.n_nan} NaN and {cur.n_inf} inf ignored" if isinstance(cur, NumericSummary) else ""
        missing = f"; {cur.n_missing} missing" if isinstance(cur, CategoricalSummary) else ""
        return f"window has {cur.n} usable values (< min_rows={min_rows}){bad}{missing}"
    return None


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _data_quality(name: str, ref: Any, cur: Any, cfg: DriftConfig) -> dict[str, Any]:
    """Missing share in reference and window, and (categorical) values the reference never saw; ``findings`` says
    what crossed a line: missing share up by ``cfg.missing_share_increase``, or any unseen category."""
    if isinstance(ref, NumericSummary):
        ref_missing = _share(ref.n_nan, ref.n + ref.n_nan + ref.n_inf)
        cur_missing = _share(cur.n_nan, cur.n + cur.n_nan + cur.n_inf)
    else:
        ref_missing, cur_missing = (
            _share(ref.n_missing, ref.n + ref.n_missing),
            _share(cur.n_missing, cur.n + cur.n_missing),
        )
    findings = []
    if cur_missing - ref_missing >= cfg.missing_share_increase:
        findings.append(f"{name}: missing in {cur_missing:.0%} of the window's rows (reference {ref_missing:.0%})")
    quality: dict[str, Any] = {"missing_share": {"reference": ref_missing, "current": cur_missing}}
    if isinstance(cur, CategoricalSummary):
        unseen = sorted(set(cur.counts) - set(ref.counts), key=lambda c: -cur.counts[c])
        unseen_share = _share(sum(cur.counts[c] for c in unseen), cur.n)
        quality["unseen_share"] = unseen_share
        if unseen:
            shown = ", ".join(unseen[:5]) + (", ..." if len(unseen) > 5 else "")
            findings.append(
                f"{name}: {unseen_share:.0%} of the window's values are categories the reference never saw ({shown})"
            )
    quality["findings"] = findings
    return quality


def _feature(spec: FeatureSpec, profile: ReferenceProfile, window: WindowSummary, cfg: DriftConfig) -> dict[str, Any]:
    numeric = spec.kind is FeatureKind.NUMERIC
    ref = profile.numeric[spec.name] if numeric else profile.categorical[spec.name]
    cur = window.numeric[spec.name] if numeric else window.categorical[spec.name]
    return _column_entry(spec, ref, cur, cfg)


def _column_entry(
    spec: FeatureSpec,
    ref: NumericSummary | CategoricalSummary,
    cur: NumericSummary | CategoricalSummary,
    cfg: DriftConfig,
) -> dict[str, Any]:
    numeric = spec.kind is FeatureKind.NUMERIC
    primary = cfg.primary_for(spec.name, spec.kind)
    if spec.kind not in get_stat_test(primary).kinds:
        raise ConfigError("drift config", f"features.{spec.name}.primary_test", primary, "a test for its kind")
    entry: dict[str, Any] = {"kind": spec.kind.value, "primary_test": primary}
    if numeric:
        assert isinstance(ref, NumericSummary) and isinstance(cur, NumericSummary)
        entry["stats"] = {"reference": _num_stats(ref), "current": _num_stats(cur)}
        hr, hc = _num_histograms(ref, cur)
        nonfinite = cur.n_nan + cur.n_inf
        note = f"{cur.n_nan} NaN and {cur.n_inf} inf values in the window were ignored" if nonfinite else None
    else:
        assert isinstance(ref, CategoricalSummary) and isinstance(cur, CategoricalSummary)
        unseen = sorted(set(cur.counts) - set(ref.counts))
        entry["stats"] = {
            "reference": {"n": ref.n, "missing": ref.n_missing, "categories": len(ref.counts)},
            "current": {"n": cur.n, "missing": cur.n_missing, "unseen_categories": unseen[:10]},
        }
        hr, hc = _cat_histograms(ref, cur)
        note = f"{cur.n_missing} missing values in the window were ignored" if cur.n_missing else None
    entry["data_quality"] = _data_quality(spec.name, ref, cur, cfg)
    reason = _untestable_reason(spec, ref, cur, cfg.min_rows)
    tests: dict[str, TestResult] = {}
    if reason is None:
        for name in cfg.tests_for(spec.name, spec.kind):
            test = get_stat_test(name)
            tests[name] = test.fn(ref, cur, cfg.threshold_for(spec.name, name), alpha=cfg.alpha)
    entry.update(
        testable=reason is None,
        reason=reason,
        note=note,
        drifted=False,
        p_value_adjusted=None,
        tests=tests,
        reference_histogram=hr,
        current_histogram=hc,
    )
    return entry


def _output_drift(profile: ReferenceProfile, window: WindowSummary, cfg: DriftConfig) -> dict[str, Any] | None:
    """Regression: the target's and the predictions' distributions tested like numeric features (unadjusted alpha:
    two tests, each a question of its own)."""
    if not profile.schema.is_regression:
        return None
    out: dict[str, Any] = {}
    for name in ("prediction", "label"):
        if name not in profile.outputs or name not in window.outputs or not window.outputs[name].n:
            continue
        entry = _column_entry(FeatureSpec(name, FeatureKind.NUMERIC), profile.outputs[name], window.outputs[name], cfg)
        if entry["testable"]:
            r: TestResult = entry["tests"][entry["primary_test"]]
            effect = r.effect_size if r.effect_size is not None else r.statistic
            drifted = r.drifted if r.p_value is None else effect >= r.threshold and r.p_value < cfg.alpha
            entry["drifted"] = bool(drifted)
        entry["tests"] = {k: v.to_dict() for k, v in entry["tests"].items()}
        out[name] = entry
    return out


def _estimate(profile: ReferenceProfile, window: WindowSummary, cfg: DriftConfig) -> dict[str, Any] | None:
    """CBPE/ATC (and the binary MLLS prior) from the window's score histogram, when the profile can."""
    if profile.schema.is_regression or not profile.estimation or not window.scores.size or not window.scores.sum():
        return None
    from driftline.monitors.estimation.window_estimate import estimate_window

    return estimate_window(profile.estimation, window.scores, cfg.performance.confidence)


def _sampled_mlls(profile: ReferenceProfile, window: WindowSummary) -> np.ndarray | None:
    """A multiclass model's MLLS prior from the probability rows in the window's sample."""
    k = len(profile.schema.classes)
    if k <= 2 or "bcts" not in profile.estimation or window.sample is None:
        return None
    if PROBABILITIES not in window.sample.table.column_names:
        return None
    rows = [p for p in window.sample.table.column(PROBABILITIES).to_pylist() if p is not None and len(p) == k]
    if not rows:
        return None
    from driftline.monitors.estimation.window_estimate import mlls_from_rows

    return mlls_from_rows(profile.estimation, np.asarray(rows, dtype=np.float64))


def _with_estimate(
    perf: dict[str, Any] | None, profile: ReferenceProfile, estimated: dict[str, Any] | None, cfg: DriftConfig
) -> dict[str, Any] | None:
    """``performance`` with ``estimated``: accuracy before labels (CBPE, ATC) from the window's scores. A window
    without labels still gets the section (``current`` null) when it can be estimated."""
    if profile.schema.is_regression:
        if perf is not None:
            perf["estimated"] = {"method": None, "reason": "not estimated: regression models need labels (yet)"}
        return perf
    if estimated is None:
        return perf
    base = profile.baseline.get("accuracy")
    if base is not None and estimated["accuracy"]["ci_high"] is not None:
        estimated["baseline"] = base
        estimated["drop"] = base - estimated["accuracy"]["value"]
        # Decay before labels: the whole interval below the baseline by at least min_drop.
        estimated["decayed"] = bool(base - estimated["accuracy"]["ci_high"] >= cfg.performance.min_drop)
    if perf is None:
        perf = {
            "metric": "accuracy",
            "baseline": base,
            "current": None,
            "ci_low": None,
            "ci_high": None,
            "p_value": None,
            "n": 0,
            "decayed": False,
            "baseline_n": int(profile.baseline["n"]) if "n" in profile.baseline else None,
            "baseline_trained_rows": (
                int(profile.baseline["trained_rows"]) if "trained_rows" in profile.baseline else None
            ),
            "reason": "no labelled rows in the window: performance is estimated only",
        }
    perf["estimated"] = estimated
    return perf


def _decide(features: dict[str, dict[str, Any]], cfg: DriftConfig) -> str:
    """Set each feature's verdict from its primary test, with multiple-testing control; return the method text."""
    with_p = [n for n, e in features.items() if e["testable"] and e["tests"][e["primary_test"]].p_value is not None]
    raw = np.array([features[n]["tests"][features[n]["primary_test"]].p_value for n in with_p])
    bh = cfg.dataset.correction is Correction.BENJAMINI_HOCHBERG
    adjusted = benjamini_hochberg(raw) if bh else raw
    level = cfg.dataset.fdr if bh else cfg.alpha
    for name, adj in zip(with_p, adjusted, strict=True):
        features[name]["p_value_adjusted"] = float(adj)
    for entry in features.values():
        if not entry["testable"]:
            continue
        r: TestResult = entry["tests"][entry["primary_test"]]
        effect = r.effect_size if r.effect_size is not None else r.statistic
        if r.p_value is None:
            entry["drifted"] = r.drifted
        else:
            entry["drifted"] = bool(effect >= r.threshold and entry["p_value_adjusted"] < level)
    control = (
        f"Benjamini-Hochberg at FDR {cfg.dataset.fdr} over the primary tests' p-values"
        if bh
        else f"unadjusted p < {cfg.alpha} per feature"
    )
    return (
        f"feature drifted when its primary test (numeric: {cfg.primary_test[FeatureKind.NUMERIC]}, categorical: "
        f"{cfg.primary_test[FeatureKind.CATEGORICAL]}) reaches its effect-size threshold and passes {control}; "
        f"dataset drift when the share of drifted testable features >= {cfg.dataset.drift_share}"
    )


def build_report(
    profile: ReferenceProfile,
    window: WindowSummary,
    cfg: DriftConfig,
    *,
    reference_source: str = "",
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The drift report as a JSON-safe dict (schema version 1.0)."""
    if window.rows == 0:
        raise DataError(
            "The window is empty: no rows left after filtering (role == 'served', --since/--until).",
            "Widen the window or check the --current path.",
        )
    features = {s.name: _feature(s, profile, window, cfg) for s in profile.schema.features if not cfg.ignored(s.name)}
    method = _decide(features, cfg)
    for entry in features.values():
        entry["tests"] = {k: v.to_dict() for k, v in entry["tests"].items()}
    testable = [n for n, e in features.items() if e["testable"]]
    drifted = [n for n in testable if features[n]["drifted"]]
    share = len(drifted) / len(testable) if testable else 0.0
    classes = profile.schema.classes
    estimate = _estimate(profile, window, cfg)
    mlls = (
        np.asarray(estimate["mlls_prior"]) if estimate and "mlls_prior" in estimate else _sampled_mlls(profile, window)
    )
    labels = label_shift_section(
        classes,
        profile.label_counts,
        profile.confusion_matrix,
        window.labels,
        window.has_labels,
        window.has_predictions,
        cfg.label_shift,
        cfg.alpha,
        mlls=mlls,
    )
    perf = None
    regression = profile.schema.is_regression
    if window.has_labels and window.has_predictions:
        if regression:
            perf = regression_performance_section(profile.baseline, window.residuals, cfg.performance)
        else:
            perf = performance_section(profile.baseline, window.labels.joint, cfg.performance)
    perf = _with_estimate(perf, profile, estimate, cfg)
    outputs = _output_drift(profile, window, cfg)
    joint = joint_drift_section(profile, window, cfg)
    labelled = window.residuals.n if regression else int(window.labels.label_counts.sum())
    report = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "window": {
            "start": _iso(window.ts_min),
            "end": _iso(window.ts_max),
            "rows": window.rows,
            "labelled_rows": labelled,
            "skipped_files": window.skipped_files,
        },
        "reference": {"source": reference_source or profile.source, "rows": profile.n_rows, "n_bins": profile.n_bins},
        "features": features,
        "label_shift": labels,
        "performance": perf,
        "task": "regression" if regression else "classification",
        "prediction_drift": outputs,
        "joint_drift": joint,
        "summary": {
            "drifted_features": drifted,
            "testable_features": len(testable),
            "share_drifted": share,
            "dataset_drift": bool(drifted) and share >= cfg.dataset.drift_share,
            "method": method,
            "label_shift": labels["shift_detected"],
            "performance_decay": bool(perf and perf["decayed"]),
            "estimated_decay": bool(perf and (perf.get("estimated") or {}).get("decayed")),
            "prediction_drift": bool(outputs and any(e["drifted"] for e in outputs.values())),
            "joint_drift": bool(joint and joint["drifted"]),
            "data_quality": [finding for e in features.values() for finding in e["data_quality"]["findings"]],
        },
        "timings": dict(timings or {}),
    }
    # One number that could not be computed never costs the whole report (json.dumps(allow_nan=False) refuses it).
    return listing_non_finite(report, _NON_FINITE_WHY)
