"""The shape every streaming drift detector shares (River's): ``update(x) -> self``, read-only verdicts, ``clone()``.

Constructor arguments are the config and are kept as public attributes of the same name; all running state is built
in :meth:`DriftDetector._reset`, so :meth:`reset` and :meth:`clone` cannot drift apart from ``__init__``.

>>> from driftline.monitors.detectors import DDM
>>> det = DDM()
>>> det.update(0).update(1).n_seen
2
>>> det.clone().n_seen, det.clone().min_num_instances
(0, 30)
"""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from typing import Any

from driftline.core.errors import DataError

__all__ = ["DriftDetector"]


class DriftDetector(ABC):
    """Base of the streaming detectors: feed one value at a time, read ``drift_detected`` after each update.

    ``drift_detected`` is true only on the update at which the change is signalled; the detector then adapts on the
    next update (DDM and Page-Hinkley restart their statistics, ADWIN has already dropped the old part of its window).
    Subclasses implement :meth:`_reset_statistics` and :meth:`_step`; the base counts, validates and latches flags.
    """

    #: True for detectors that also signal a warning zone (``warning_detected``).
    has_warning: bool = False
    #: True if the input must be 0/1 (an error indicator), False for any finite real value.
    binary_input: bool = False

    def __init__(self) -> None:
        self._reset()

    # -- state -------------------------------------------------------------------------------------------------
    def _reset(self) -> None:
        """Build all running state from scratch (the one place that does)."""
        self._n_seen = 0
        self._n_detections = 0
        self._drift_detected = False
        self._warning_detected = False
        self._reset_statistics()

    @abstractmethod
    def _reset_statistics(self) -> None:
        """(Re)build the method's own statistics; called by ``_reset`` and when a method restarts after a drift."""

    @abstractmethod
    def _step(self, x: float) -> bool:
        """Absorb one validated value; return True if a drift is signalled now (may set ``_warning_detected``)."""

    # -- public API --------------------------------------------------------------------------------------------
    def update(self, x: float | int | bool) -> DriftDetector:
        """Feed one value (an error indicator 0/1 for binary detectors); returns ``self`` so calls chain."""
        value = self._validate(x)
        self._n_seen += 1
        self._warning_detected = False
        self._drift_detected = self._step(value)
        if self._drift_detected:
            self._n_detections += 1
            self._warning_detected = False
        return self

    @property
    def drift_detected(self) -> bool:
        """True if the last update signalled a change."""
        return self._drift_detected

    @property
    def warning_detected(self) -> bool:
        """True if the last update is in the warning zone (always False for methods without one)."""
        return self._warning_detected

    @property
    def n_seen(self) -> int:
        """Values fed since construction or the last :meth:`reset` (not cleared by a detected drift)."""
        return self._n_seen

    @property
    def n_detections(self) -> int:
        """Drifts signalled since construction or the last :meth:`reset`."""
        return self._n_detections

    def reset(self) -> DriftDetector:
        """Forget everything seen; parameters are kept."""
        self._reset()
        return self

    def clone(self) -> DriftDetector:
        """A new detector with the same parameters and fresh state."""
        return type(self)(**self.params)

    @property
    def params(self) -> dict[str, Any]:
        """The constructor arguments (read back from the same-named attributes)."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    # -- helpers -----------------------------------------------------------------------------------------------
    def _validate(self, x: Any) -> float:
        name = type(self).__name__
        try:
            value = float(x)
        except (TypeError, ValueError):
            raise DataError(
                f"{name}.update got {x!r} ({type(x).__name__}); expected a number.",
                "Pass one scalar per call, e.g. det.update(float(error)).",
            ) from None
        if not math.isfinite(value):
            raise DataError(f"{name}.update got {x!r}; expected a finite number.", "Drop or impute NaN/inf first.")
        if self.binary_input and value not in (0.0, 1.0):
            raise DataError(
                f"{name}.update got {x!r}; expected 0 or 1 (1 = the model was wrong).",
                "Feed the error indicator int(y_pred != y_true), not a score.",
            )
        return value
