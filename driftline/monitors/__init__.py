"""Drift monitoring: reference profiles, batch drift tests, label shift, performance, engines and the drift job.

>>> from driftline.monitors import STAT_TESTS, build_reference_profile, run_drift_job
>>> sorted(STAT_TESTS)[:2]
['chi2', 'jensen_shannon']
"""

from __future__ import annotations

from typing import Any

from driftline.monitors.detectors import ADWIN, DDM, PageHinkley
from driftline.monitors.drift_config import DriftConfig
from driftline.monitors.engine_memory import summarize_arrow, summarize_frame, summarize_parquet
from driftline.monitors.engine_ray import summarize_parquet_ray
from driftline.monitors.label_shift import bbse_prior, reweight_probabilities
from driftline.monitors.performance import performance_section
from driftline.monitors.profile import ReferenceProfile, build_reference_profile, infer_schema
from driftline.monitors.report import REPORT_SCHEMA_VERSION, benjamini_hochberg, build_report
from driftline.monitors.report_html import render_html
from driftline.monitors.stattests import STAT_TESTS, TestResult, get_stat_test
from driftline.monitors.summaries import CategoricalSummary, LabelSummary, NumericSummary, WindowSummary
from driftline.monitors.window import Feedback, load_feedback

__all__ = [
    "ADWIN",
    "DDM",
    "REPORT_SCHEMA_VERSION",
    "STAT_TESTS",
    "CategoricalSummary",
    "DriftConfig",
    "Feedback",
    "LabelSummary",
    "NumericSummary",
    "PageHinkley",
    "ReferenceProfile",
    "TestResult",
    "WindowSummary",
    "bbse_prior",
    "benjamini_hochberg",
    "build_reference_profile",
    "build_report",
    "get_stat_test",
    "infer_schema",
    "load_feedback",
    "performance_section",
    "render_html",
    "reweight_probabilities",
    "run_drift_job",
    "summarize_arrow",
    "summarize_frame",
    "summarize_parquet",
    "summarize_parquet_ray",
]


def __getattr__(name: str) -> Any:
    # Lazy, so ``python -m driftline.monitors.drift_job`` does not import that module twice (runpy warns).
    if name == "run_drift_job":
        from driftline.monitors.drift_job import run_drift_job

        return run_drift_job
    raise AttributeError(f"module 'driftline.monitors' has no attribute {name!r}")
