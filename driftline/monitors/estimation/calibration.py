"""Score calibrators fitted on reference validation data and stored as plain JSON-safe dicts.

``isotonic`` is the pool-adjacent-violators fit of P(outcome | score) (monotone, no parameters to tune; its knots are
interpolated linearly, as scikit-learn does); ``histogram`` is equal-mass histogram binning (Zadrozny & Elkan 2001),
smoother on small validation sets. Both map a score in [0, 1] to a probability in [0, 1].

>>> cal = fit_calibrator([0.1, 0.2, 0.3, 0.6, 0.8, 0.9], [0, 1, 0, 1, 1, 1])
>>> cal([0.1, 0.25, 0.9]).round(2).tolist()
[0.0, 0.5, 1.0]
>>> Calibrator.from_dict(cal.to_dict()) == cal
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from driftline.core.errors import DataError

__all__ = ["CALIBRATION_METHODS", "Calibrator", "fit_calibrator"]

CALIBRATION_METHODS = ("isotonic", "histogram")


@dataclass(frozen=True)
class Calibrator:
    """A fitted monotone map score -> probability; ``knots``/``values`` are its whole state.

    isotonic: ``values`` at ``knots`` (interpolated linearly, constant outside); histogram: ``knots`` are the
    ``len(values) + 1`` bin edges (open-ended outer bins) and ``values`` the outcome rate per bin.
    """

    method: str
    knots: tuple[float, ...]
    values: tuple[float, ...]

    def __call__(self, scores: Sequence[float] | np.ndarray) -> np.ndarray:
        s = np.asarray(scores, dtype=np.float64)
        if self.method == "isotonic":
            return np.interp(s, self.knots, self.values)
        inner = np.asarray(self.knots[1:-1])
        return np.asarray(self.values)[np.searchsorted(inner, s, side="right")]

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "knots": list(self.knots), "values": list(self.values)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibrator:
        if d.get("method") not in CALIBRATION_METHODS:
            raise DataError(f"Unknown calibrator method {d.get('method')!r}.", f"Use one of {CALIBRATION_METHODS}.")
        return cls(str(d["method"]), tuple(float(v) for v in d["knots"]), tuple(float(v) for v in d["values"]))


def fit_calibrator(
    scores: Sequence[float] | np.ndarray,
    outcomes: Sequence[float] | np.ndarray,
    method: str = "isotonic",
    n_bins: int = 15,
) -> Calibrator:
    """Fit P(outcome = 1 | score) on validation scores and 0/1 outcomes (``n_bins`` is for ``histogram``)."""
    s, y = np.asarray(scores, dtype=np.float64), np.asarray(outcomes, dtype=np.float64)
    if s.ndim != 1 or s.shape != y.shape or s.size < 2:
        raise DataError(
            f"A calibrator needs two 1-d arrays of equal length >= 2, got {s.shape} and {y.shape}.",
            "Pass one score and one 0/1 outcome per validation row.",
        )
    if not (np.isfinite(s).all() and np.isin(y, (0.0, 1.0)).all()):
        raise DataError("Calibration scores must be finite and outcomes 0 or 1.", "Drop NaN rows; encode labels.")
    if method == "isotonic":
        return _isotonic(s, y)
    if method == "histogram":
        return _histogram(s, y, n_bins)
    raise DataError(f"Unknown calibration method {method!r}.", f"Use one of {CALIBRATION_METHODS}.")


def _isotonic(s: np.ndarray, y: np.ndarray) -> Calibrator:
    xs, inverse = np.unique(s, return_inverse=True)
    weights = np.bincount(inverse).astype(np.float64)
    sums = np.bincount(inverse, weights=y)
    # Pool adjacent violators over the distinct scores: a stack of blocks (sum, weight, first x, last x).
    blocks: list[list[float]] = []
    for x, total, w in zip(xs.tolist(), sums.tolist(), weights.tolist(), strict=True):
        blocks.append([total, w, x, x])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            top = blocks.pop()
            blocks[-1][0] += top[0]
            blocks[-1][1] += top[1]
            blocks[-1][3] = top[3]
    knots: list[float] = []
    values: list[float] = []
    for total, w, first, last in blocks:
        for x in (first, last) if last > first else (first,):
            knots.append(x)
            values.append(total / w)
    return Calibrator("isotonic", tuple(knots), tuple(values))


def _histogram(s: np.ndarray, y: np.ndarray, n_bins: int) -> Calibrator:
    if int(n_bins) != n_bins or n_bins < 1:
        raise DataError(f"n_bins={n_bins!r} must be an integer >= 1.", "Use e.g. 15.")
    edges = np.unique(np.quantile(s, np.linspace(0.0, 1.0, int(n_bins) + 1)))
    if edges.size < 2:  # every score equal: one bin
        edges = np.array([s[0], s[0]])
    index = np.searchsorted(edges[1:-1], s, side="right")
    counts = np.bincount(index, minlength=edges.size - 1)
    rates = np.bincount(index, weights=y, minlength=edges.size - 1) / np.maximum(counts, 1)
    return Calibrator("histogram", tuple(edges.tolist()), tuple(rates.tolist()))
