"""Drift monitoring: reference profiles, batch drift tests, label shift, performance, engines and the drift job.

>>> from driftline.monitors import STAT_TESTS, build_reference_profile, run_drift_job
>>> sorted(STAT_TESTS)[:2]
['chi2', 'jensen_shannon']
"""

from __future__ import annotations

from driftline.core.lazy import lazy_getattr

# Lazy: importing the package costs nothing, and ``python -m driftline.monitors.drift_job`` does not import that
# module twice (runpy warns).
_EXPORTS = {
    "ADWIN": "driftline.monitors.detectors",
    "BOCPD": "driftline.monitors.detectors",
    "DDM": "driftline.monitors.detectors",
    "PageHinkley": "driftline.monitors.detectors",
    "DriftConfig": "driftline.monitors.drift_config",
    "summarize_arrow": "driftline.monitors.engine_memory",
    "summarize_frame": "driftline.monitors.engine_memory",
    "summarize_parquet": "driftline.monitors.engine_memory",
    "summarize_parquet_ray": "driftline.monitors.engine_ray",
    "atc_estimate": "driftline.monitors.estimation",
    "estimate_cbpe": "driftline.monitors.estimation",
    "fit_atc": "driftline.monitors.estimation",
    "fit_cbpe": "driftline.monitors.estimation",
    "bbse_prior": "driftline.monitors.label_shift",
    "fit_bcts": "driftline.monitors.label_shift_mlls",
    "mlls_prior": "driftline.monitors.label_shift_mlls",
    "domain_classifier_test": "driftline.monitors.domain_classifier",
    "reweight_probabilities": "driftline.monitors.label_shift",
    "performance_section": "driftline.monitors.performance",
    "ReferenceProfile": "driftline.monitors.profile",
    "build_reference_profile": "driftline.monitors.profile",
    "infer_schema": "driftline.monitors.profile",
    "REPORT_SCHEMA_VERSION": "driftline.monitors.report_schema",
    "benjamini_hochberg": "driftline.monitors.report",
    "build_report": "driftline.monitors.report",
    "render_html": "driftline.monitors.report_html",
    "STAT_TESTS": "driftline.monitors.stattests",
    "TestResult": "driftline.monitors.stattests",
    "get_stat_test": "driftline.monitors.stattests",
    "CategoricalSummary": "driftline.monitors.summaries",
    "LabelSummary": "driftline.monitors.summaries",
    "NumericSummary": "driftline.monitors.summaries",
    "WindowSummary": "driftline.monitors.summaries",
    "FeedbackLog": "driftline.monitors.feedback_join",
    "open_feedback": "driftline.monitors.feedback_join",
    "run_drift_job": "driftline.monitors.drift_job",
    "DriftReport": "driftline.monitors.report_schema",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
