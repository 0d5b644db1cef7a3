"""BOCPD, Bayesian online change-point detection (Adams & MacKay 2007), scale-free, for real-valued streams.

The stream is modelled as stationary segments of Gaussians with unknown mean and variance (a normal-gamma prior,
so each segment's predictive is a Student-t). After every value the posterior over the *run length* ``r`` (values
since the last change) is updated in O(``max_run_length``):

    P(r_t = r + 1, x_1:t) = P(r_{t-1} = r, x_1:t-1) · pred_r(x_t) · (1 - h)
    P(r_t = 0,     x_1:t) = sum_r P(r_{t-1} = r, x_1:t-1) · pred_r(x_t) · h,       h = 1 / expected_run_length

Scale-free: the first ``warmup`` values fix a centre (median) and a scale (1.4826 · MAD, else the standard
deviation, else 1) and every value is standardised with them and clipped at ``±clip``, so the prior (mean 0,
variance about 1) fits any unit and a single heavy-tailed outlier cannot outvote a segment. A drift is signalled
when the posterior probability that the current segment holds a change, backed by at least ``min_evidence``
values on either side of it, exceeds ``threshold``; the detector then restarts (a new warm-up) on the next value.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> stream = np.concatenate([rng.normal(100, 5, 300), rng.normal(110, 5, 300)])
>>> det = BOCPD()
>>> [i for i, x in enumerate(stream) if det.update(x).drift_detected]
[309]
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy.special import gammaln

from driftline.core.errors import ConfigError
from driftline.monitors.detectors.base import DriftDetector

__all__ = ["BOCPD"]

_MAD_TO_SD = 1.4826  # MAD of a normal distribution times this is its standard deviation
# Normal-gamma prior in standardised units: mean 0 with the weight of 0.05 values (vague), precision ~ Gamma(2, 2),
# i.e. a segment's variance is about 1 with the weight of 4 values: strong enough that five equal values cannot
# claim a near-zero variance, weak enough that a 3x variance shift is found within ~50 values (measured).
_MU0, _KAPPA0, _ALPHA0, _BETA0 = 0.0, 0.05, 2.0, 2.0


class BOCPD(DriftDetector):
    """Bayesian online change-point detector for the mean and variance of a real-valued stream.

    Args:
        expected_run_length: prior mean segment length (the hazard is its inverse); larger means fewer alarms.
        threshold: posterior probability of a change in the current segment that signals a drift.
        min_evidence: values needed on each side of a candidate change before it counts; a lone outlier is one.
        warmup: values used to fix the centre and scale after a start or a restart (no drift before it).
        max_run_length: run lengths tracked (truncation); the cost per value is O(max_run_length).
        clip: standardised values are clipped to ``[-clip, clip]`` so heavy tails cannot dominate.
    """

    def __init__(
        self,
        expected_run_length: float = 1000.0,
        threshold: float = 0.9,
        min_evidence: int = 5,
        warmup: int = 30,
        max_run_length: int = 300,
        clip: float = 3.0,
    ) -> None:
        if not expected_run_length > 1:
            raise ConfigError("BOCPD", "expected_run_length", expected_run_length, "a number > 1 (values)")
        if not 0 < threshold < 1:
            raise ConfigError("BOCPD", "threshold", threshold, "a probability in (0, 1)")
        for name, value, low in (("min_evidence", min_evidence, 1), ("warmup", warmup, 3)):
            if int(value) != value or value < low:
                raise ConfigError("BOCPD", name, value, f"an integer >= {low}")
        if int(max_run_length) != max_run_length or max_run_length < 2 * min_evidence + 2:
            raise ConfigError("BOCPD", "max_run_length", max_run_length, f"an integer >= {2 * min_evidence + 2}")
        if not clip > 0:
            raise ConfigError("BOCPD", "clip", clip, "a number > 0 (standardised units)")
        self.expected_run_length = float(expected_run_length)
        self.threshold = float(threshold)
        self.min_evidence = int(min_evidence)
        self.warmup = int(warmup)
        self.max_run_length = int(max_run_length)
        self.clip = float(clip)
        super().__init__()

    def _reset_statistics(self) -> None:
        self._buffer: list[float] = []
        self._center = 0.0
        self._scale = 1.0
        self._n = 0  # values absorbed by the run-length posterior since the restart
        self._log_p = np.zeros(1)  # log P(r_t = r | x), r = 0..len-1
        self._mu = np.array([_MU0])  # posterior mean of each run's segment
        self._beta = np.array([_BETA0])  # posterior rate of each run's precision
        self._change_probability = 0.0

    @property
    def change_probability(self) -> float:
        """Posterior probability, after the last value, that the current segment holds a change."""
        return self._change_probability

    @property
    def run_length(self) -> int:
        """Most probable run length (values since the last change) after the last value (0 during warm-up)."""
        return int(np.argmax(self._log_p)) if self._n else 0

    def _step(self, x: float) -> bool:
        if self._drift_detected:  # the previous value signalled a drift: the new segment starts here
            self._reset_statistics()
        if self._n == 0 and len(self._buffer) < self.warmup:
            self._buffer.append(x)
            if len(self._buffer) < self.warmup:
                return False
            self._fix_scale(np.asarray(self._buffer))
            for value in self._buffer:
                self._absorb(value)
            self._buffer = []
        else:
            self._absorb(x)
        return self._change_probability > self.threshold

    def _fix_scale(self, values: np.ndarray) -> None:
        self._center = float(np.median(values))
        scale = _MAD_TO_SD * float(np.median(np.abs(values - self._center)))
        if scale <= 0:  # more than half the warm-up is one value (e.g. a 0/1 error stream): fall back to the SD
            scale = float(values.std())
        self._scale = scale if scale > 0 else 1.0

    def _absorb(self, x: float) -> None:
        z = min(max((x - self._center) / self._scale, -self.clip), self.clip)
        m = self._log_p.size
        const, spread, kappa, nu, half_nu1 = _run_constants(self.max_run_length)
        # Student-t predictive of each run: only the mean and the rate beta depend on the data.
        scale2 = self._beta * spread[:m]
        log_pred = const[:m] - 0.5 * np.log(scale2) - half_nu1[:m] * np.log1p((z - self._mu) ** 2 / (nu[:m] * scale2))
        log_joint = self._log_p + log_pred
        top = float(log_joint.max())
        change = top + math.log(float(np.exp(log_joint - top).sum())) - math.log(self.expected_run_length)
        grown_log_p = log_joint + math.log1p(-1.0 / self.expected_run_length)
        k = kappa[:m]
        grown_mu = (k * self._mu + z) / (k + 1.0)
        grown_beta = self._beta + k * (z - self._mu) ** 2 / (2.0 * (k + 1.0))
        if m > self.max_run_length:
            # Truncation: the longest run (r = max) and the one just below it merge into "r >= max"; the merged
            # run keeps the statistics of the more probable of the two (dropping mass here would push the
            # posterior towards short runs, i.e. false changes, every time a stream outlives max_run_length).
            # The overflow run stays at r = max: its precision's rate is shrunk back to alpha_max, so beta / alpha
            # (the variance estimate) stays a running average instead of growing without bound.
            a_max = _ALPHA0 + self.max_run_length / 2.0
            grown_beta[-1] = _BETA0 + (grown_beta[-1] - _BETA0) * a_max / (a_max + 0.5)
            last = m - 2 if grown_log_p[-2] >= grown_log_p[-1] else m - 1
            grown_mu[-2], grown_beta[-2] = grown_mu[last], grown_beta[last]
            grown_log_p[-2] = np.logaddexp(grown_log_p[-2], grown_log_p[-1])
            grown_log_p, grown_mu, grown_beta = grown_log_p[:-1], grown_mu[:-1], grown_beta[:-1]
        log_p = np.concatenate([[change], grown_log_p])
        top = float(log_p.max())
        self._log_p = log_p - (top + math.log(float(np.exp(log_p - top).sum())))
        self._mu = np.concatenate([[_MU0], grown_mu])
        self._beta = np.concatenate([[_BETA0], grown_beta])
        self._n += 1
        # A change inside the segment: run lengths with >= min_evidence values after it and before it.
        longest = min(self._n, self.max_run_length)
        inside = self._log_p[self.min_evidence : longest - self.min_evidence + 1]
        self._change_probability = float(np.exp(inside).sum()) if inside.size else 0.0


@functools.lru_cache(maxsize=8)
def _run_constants(max_run_length: int) -> tuple[np.ndarray, ...]:
    """Per run length r (kappa and alpha depend on r only): Student-t log normaliser, (kappa+1)/(alpha kappa),
    kappa, degrees of freedom nu = 2 alpha and (nu + 1) / 2."""
    r = np.arange(max_run_length + 1, dtype=np.float64)
    kappa, alpha = _KAPPA0 + r, _ALPHA0 + r / 2.0
    nu = 2.0 * alpha
    const = gammaln((nu + 1.0) / 2.0) - gammaln(nu / 2.0) - 0.5 * np.log(np.pi * nu)
    return const, (kappa + 1.0) / (alpha * kappa), kappa, nu, (nu + 1.0) / 2.0
