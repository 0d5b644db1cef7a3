"""Streaming drift detectors over a per-request error (or loss, latency, score) stream, with River's shape.

``update(x) -> self``, then read ``drift_detected`` (and ``warning_detected`` for DDM). Registered explicitly in
``DETECTORS`` by name, so configs can name them and the contract tests can enumerate them.

>>> det = DETECTORS["ddm"]()
>>> det.update(1).drift_detected
False
"""

from __future__ import annotations

from driftline.monitors.detectors.adwin import ADWIN
from driftline.monitors.detectors.base import DriftDetector
from driftline.monitors.detectors.bocpd import BOCPD
from driftline.monitors.detectors.ddm import DDM
from driftline.monitors.detectors.page_hinkley import PageHinkley

__all__ = ["ADWIN", "BOCPD", "DDM", "DETECTORS", "DriftDetector", "PageHinkley"]

DETECTORS: dict[str, type[DriftDetector]] = {
    "ddm": DDM,
    "adwin": ADWIN,
    "page_hinkley": PageHinkley,
    "bocpd": BOCPD,
}
