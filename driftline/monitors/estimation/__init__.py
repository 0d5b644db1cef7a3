"""Performance without labels: CBPE (calibrated confidence) and ATC (thresholded confidence) for classifiers.

Fit once on the reference validation set (the fits are plain JSON for the reference profile), then estimate on
any unlabelled window from the model's probabilities. Regression: not supported yet (``regression.py``).

>>> import numpy as np
>>> p = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]] * 50); y = np.array([0, 1, 1, 1] * 50)
>>> estimate_cbpe(fit_cbpe(p, y), p).metrics["accuracy"].value
0.75
"""

from __future__ import annotations

from driftline.monitors.estimation.atc import ATC_SCORES, ATCFit, atc_estimate, fit_atc
from driftline.monitors.estimation.calibration import CALIBRATION_METHODS, Calibrator, fit_calibrator
from driftline.monitors.estimation.cbpe import CBPEFit, estimate_cbpe, fit_cbpe
from driftline.monitors.estimation.regression import estimate_regression_performance
from driftline.monitors.estimation.result import MetricEstimate, PerformanceEstimate

__all__ = [
    "ATC_SCORES",
    "CALIBRATION_METHODS",
    "ATCFit",
    "CBPEFit",
    "Calibrator",
    "MetricEstimate",
    "PerformanceEstimate",
    "atc_estimate",
    "estimate_cbpe",
    "estimate_regression_performance",
    "fit_atc",
    "fit_calibrator",
    "fit_cbpe",
]
