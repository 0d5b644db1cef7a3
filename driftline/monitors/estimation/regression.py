"""Label-free performance estimation for regression models: not supported yet.

CBPE and ATC need class probabilities. A regression model would need a second model of its own error (NannyML's
DLE: a model of |residual| given the features and the prediction, fitted on the reference), which driftline does
not ship yet. Until then, measure regression performance from labels (the drift report's performance section).

>>> estimate_regression_performance()
Traceback (most recent call last):
...
driftline.core.errors.DriftlineError: Label-free performance estimation is not supported for regression yet. ...
"""

from __future__ import annotations

from typing import Any, NoReturn

from driftline.core.errors import DriftlineError

__all__ = ["estimate_regression_performance"]


def estimate_regression_performance(*_args: Any, **_kwargs: Any) -> NoReturn:
    """Always raises: there is no label-free estimator for regression in driftline yet (see the module doc)."""
    raise DriftlineError(
        "Label-free performance estimation is not supported for regression yet.",
        "Use labelled performance (feedback) for regression models; CBPE and ATC need class probabilities.",
    )
