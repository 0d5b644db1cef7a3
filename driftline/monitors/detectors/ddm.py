"""DDM, the Drift Detection Method of Gama, Medas, Castillo and Rodrigues (SBIA 2004).

The error rate ``p_i`` of a learner over ``i`` predictions is a Bernoulli mean with standard deviation
``s_i = sqrt(p_i (1 - p_i) / i)``. While the concept is stable ``p_i`` falls or stays put, so DDM remembers the point
where ``p_i + s_i`` was lowest (``p_min``, ``s_min``) and signals

* a warning when ``p_i + s_i >= p_min + warning_level * s_min`` (2 sigma, about 95% one-sided), and
* a drift   when ``p_i + s_i >= p_min + drift_level * s_min``   (3 sigma, about 99.9% one-sided),

after ``min_num_instances`` predictions. After a drift it restarts from scratch on the next value.

One deliberate difference from the paper: a minimum with ``s = 0`` (no error yet, or only errors) is not recorded,
because its band has zero width and the first error after a clean start would be reported as a drift. With an error
rate of 0.1 that start happens on 4% of streams (0.9 ** 30); the paper's rule turns each into a false alarm.

>>> det = DDM()
>>> stream = [0, 0, 0, 1] * 25 + [1] * 20
>>> [i for i, x in enumerate(stream) if det.update(x).drift_detected]
[111]
"""

from __future__ import annotations

import math

from driftline.core.errors import ConfigError
from driftline.monitors.detectors.base import DriftDetector

__all__ = ["DDM"]


class DDM(DriftDetector):
    """Drift Detection Method over a 0/1 error stream (1 = the model was wrong).

    Args:
        min_num_instances: predictions seen (since the last restart) before a warning or drift may be signalled;
            30 is the paper's value: below it the normal approximation of the binomial is poor.
        warning_level: sigmas above the recorded minimum that enter the warning zone.
        drift_level: sigmas above the recorded minimum that signal a drift; must be >= ``warning_level``.
    """

    has_warning = True
    binary_input = True

    def __init__(self, min_num_instances: int = 30, warning_level: float = 2.0, drift_level: float = 3.0) -> None:
        if int(min_num_instances) != min_num_instances or min_num_instances < 1:
            raise ConfigError("DDM", "min_num_instances", min_num_instances, "an integer >= 1")
        if not warning_level > 0:
            raise ConfigError("DDM", "warning_level", warning_level, "a number > 0 (sigmas)")
        if not drift_level >= warning_level:
            raise ConfigError("DDM", "drift_level", drift_level, f"a number >= warning_level ({warning_level})")
        self.min_num_instances = int(min_num_instances)
        self.warning_level = float(warning_level)
        self.drift_level = float(drift_level)
        super().__init__()

    def _reset_statistics(self) -> None:
        self._n = 0
        self._errors = 0
        self._p_min = math.inf
        self._s_min = math.inf

    @property
    def p(self) -> float:
        """Error rate since the last restart (nan before the first value)."""
        return self._errors / self._n if self._n else math.nan

    @property
    def s(self) -> float:
        """Standard deviation of that error rate, ``sqrt(p (1 - p) / n)``."""
        return math.sqrt(self.p * (1.0 - self.p) / self._n) if self._n else math.nan

    @property
    def p_min(self) -> float:
        """Error rate at the recorded minimum of ``p + s`` (inf until one is recorded)."""
        return self._p_min

    @property
    def s_min(self) -> float:
        """Standard deviation at the recorded minimum of ``p + s`` (inf until one is recorded)."""
        return self._s_min

    def _step(self, x: float) -> bool:
        if self._drift_detected:  # the previous value signalled a drift: the new concept starts here
            self._reset_statistics()
        self._n += 1
        self._errors += int(x)
        if self._n < self.min_num_instances:
            return False
        p, s = self.p, self.s
        if s > 0.0 and p + s <= self._p_min + self._s_min:
            self._p_min, self._s_min = p, s
        if math.isinf(self._p_min):
            return False
        level = p + s
        if level >= self._p_min + self.drift_level * self._s_min:
            return True
        self._warning_detected = level >= self._p_min + self.warning_level * self._s_min
        return False
