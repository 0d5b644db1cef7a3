"""Page-Hinkley test (Page 1954; Mouss et al. 2004 for the streaming form) for a change in the mean of a stream.

For an increase it keeps the cumulative deviation from the running mean, reset at zero like a CUSUM::

    mean_t = mean_{t-1} + (x_t - mean_{t-1}) / t
    up_t   = max(0, alpha * up_{t-1} + (x_t - mean_t - delta))

and signals a drift when ``up_t > threshold`` (lambda) after ``min_instances`` values. ``delta`` is the size of
change tolerated without alarm; ``alpha`` < 1 forgets old deviations so a long, slow wander does not add up to an
alarm. ``mode="down"`` mirrors the sum (``mean_t - x_t - delta``), ``"both"`` watches both. After a drift the test
restarts from scratch on the next value. Only a drift is signalled, no warning zone.

>>> ph = PageHinkley(min_instances=1, delta=0.0, threshold=1.0, alpha=1.0)
>>> [round(ph.update(x).sum_increase, 3) for x in (1, 2, 3)]
[0.0, 0.5, 1.5]
>>> ph.drift_detected
True
"""

from __future__ import annotations

from driftline.core.errors import ConfigError
from driftline.monitors.detectors.base import DriftDetector

__all__ = ["PageHinkley"]

_MODES = ("up", "down", "both")


class PageHinkley(DriftDetector):
    """Page-Hinkley change detector for the mean of a real-valued stream (e.g. the 0/1 error stream or a loss).

    Args:
        min_instances: values (since the last restart) before a drift may be signalled.
        delta: magnitude of change per value that is tolerated; keeps a stationary stream's sum drifting to 0.
        threshold: lambda, the cumulative deviation that signals a drift; larger means fewer false alarms and a
            longer delay (a mean shift of ``d`` is found after about ``threshold / (d - delta)`` values).
        alpha: forgetting factor in (0, 1] applied to the sum at every step (1 = no forgetting).
        mode: ``"up"`` detects increases of the mean (error rate rising), ``"down"`` decreases, ``"both"`` either.
    """

    def __init__(
        self,
        min_instances: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1 - 0.0001,
        mode: str = "up",
    ) -> None:
        if int(min_instances) != min_instances or min_instances < 1:
            raise ConfigError("PageHinkley", "min_instances", min_instances, "an integer >= 1")
        if not delta >= 0:
            raise ConfigError("PageHinkley", "delta", delta, "a number >= 0")
        if not threshold > 0:
            raise ConfigError("PageHinkley", "threshold", threshold, "a number > 0")
        if not 0 < alpha <= 1:
            raise ConfigError("PageHinkley", "alpha", alpha, "a number in (0, 1]")
        if mode not in _MODES:
            raise ConfigError("PageHinkley", "mode", mode, f"one of {', '.join(_MODES)}")
        self.min_instances = int(min_instances)
        self.delta = float(delta)
        self.threshold = float(threshold)
        self.alpha = float(alpha)
        self.mode = mode
        super().__init__()

    def _reset_statistics(self) -> None:
        self._n = 0
        self._mean = 0.0
        self._up = 0.0
        self._down = 0.0

    @property
    def mean(self) -> float:
        """Running mean since the last restart."""
        return self._mean

    @property
    def sum_increase(self) -> float:
        """Cumulative evidence for an increase of the mean (compared with ``threshold``)."""
        return self._up

    @property
    def sum_decrease(self) -> float:
        """Cumulative evidence for a decrease of the mean."""
        return self._down

    def _step(self, x: float) -> bool:
        if self._drift_detected:  # the previous value signalled a drift: the new regime starts here
            self._reset_statistics()
        self._n += 1
        self._mean += (x - self._mean) / self._n
        self._up = max(0.0, self.alpha * self._up + (x - self._mean - self.delta))
        self._down = max(0.0, self.alpha * self._down + (self._mean - x - self.delta))
        if self._n < self.min_instances:
            return False
        up = self.mode != "down" and self._up > self.threshold
        down = self.mode != "up" and self._down > self.threshold
        return up or down
