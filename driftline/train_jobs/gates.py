"""Offline gates a retrained model must pass before it may become ``candidate``. Pure functions, no I/O.

- :func:`not_worse_gate`: on the recent holdout (newest rows of the window, never trained on), the candidate's
  accuracy is at least the champion's minus ``margin``.
- :func:`forgetting_gate`: on a holdout of older data (from the replay reservoir), the candidate loses at most
  ``max_drop`` accuracy against the champion. Without an older holdout it passes and says it was not evaluated.
- :func:`beats_constant_gate`: on the recent holdout, the candidate does at least as well as always answering its
  training rows' most common class (regression: their mean). Beating a champion that the data left behind is not
  enough: a champion can be worse than a constant after a concept change.

For a regression model the gates compare RMSE (lower is better) and the margins are relative: the candidate passes
``not_worse`` when its RMSE is at most the champion's times ``1 + margin``, and ``forgetting`` when its RMSE on the
older holdout grew by at most ``max_drop`` of the champion's.

Each returns a :class:`GateResult` with a one-sentence reason and the numbers behind it;
:func:`combine` folds them into a :class:`GateReport` whose ``to_json`` is the ``driftline.gates`` lineage tag.

>>> g = not_worse_gate(candidate=0.84, champion=0.62, n=400, margin=0.01)
>>> g.passed, g.reason
(True, 'recent holdout: candidate 0.840 >= champion 0.620 - margin 0.010 (400 rows).')
>>> f = forgetting_gate(candidate=0.70, champion=0.86, n=300, max_drop=0.05)
>>> f.passed, combine([g, f]).reason
(False, 'older holdout: candidate 0.700 lost 0.160 > 0.050 vs champion 0.860 (300 rows).')
>>> not_worse_gate(candidate=1.04, champion=1.0, n=400, margin=0.05, metric="rmse").reason
'recent holdout: candidate rmse 1.040 <= champion 1.000 x (1 + margin 0.050) (400 rows).'
>>> beats_constant_gate(candidate=0.356, constant=0.397, answer="class 'b'", n=73).reason
"recent holdout: candidate 0.356 < 0.397 of always answering class 'b' (73 rows)."
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "ERROR_METRICS",
    "GateReport",
    "GateResult",
    "beats_constant_gate",
    "combine",
    "forgetting_gate",
    "not_worse_gate",
]

# Metrics where lower is better: their margins are relative to the champion's value.
ERROR_METRICS = frozenset({"rmse", "mae"})
_EPS = 1e-12  # accuracies are ratios: 0.80 - 0.75 is 0.05000000000000004, which must still pass max_drop 0.05


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict: ``passed``, a sentence saying why, and the numbers (``evidence``)."""

    name: str
    passed: bool
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GateReport:
    """All gates; ``passed`` only when every gate passed; ``reason`` names the failures (or says all passed)."""

    passed: bool
    reason: str
    results: tuple[GateResult, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "reason": self.reason, "gates": [asdict(r) for r in self.results]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def _too_few(name: str, where: str, n: int, min_rows: int) -> GateResult | None:
    if n >= min_rows:
        return None
    reason = f"{where}: only {n} rows (< {min_rows}); the gate cannot vouch for the candidate."
    return GateResult(name, False, reason, {"n": n, "min_rows": min_rows})


def not_worse_gate(
    candidate: float, champion: float, n: int, margin: float, min_rows: int = 1, metric: str = "accuracy"
) -> GateResult:
    """Pass when ``candidate >= champion - margin`` on ``n`` recent holdout rows (and ``n >= min_rows``); for an error
    metric (rmse, mae) when ``candidate <= champion * (1 + margin)``."""
    name = "not_worse"
    short = _too_few(name, "recent holdout", n, min_rows)
    if short is not None:
        return short
    delta = candidate - champion
    evidence: dict[str, Any] = {"candidate": candidate, "champion": champion, "delta": delta, "margin": margin, "n": n}
    if metric in ERROR_METRICS:
        evidence["metric"] = metric
        ok = candidate <= champion * (1.0 + margin) + _EPS
        sign = "<=" if ok else ">"
        reason = (
            f"recent holdout: candidate {metric} {candidate:.3f} {sign} champion {champion:.3f} x (1 + margin "
            f"{margin:.3f}) ({n} rows)."
        )
        return GateResult(name, ok, reason, evidence)
    if candidate >= champion - margin - _EPS:
        reason = (
            f"recent holdout: candidate {candidate:.3f} >= champion {champion:.3f} - margin {margin:.3f} ({n} rows)."
        )
        return GateResult(name, True, reason, evidence)
    reason = f"recent holdout: candidate {candidate:.3f} < champion {champion:.3f} - margin {margin:.3f} ({n} rows)."
    return GateResult(name, False, reason, evidence)


def forgetting_gate(
    candidate: float | None,
    champion: float | None,
    n: int,
    max_drop: float,
    min_rows: int = 1,
    metric: str = "accuracy",
) -> GateResult:
    """Pass when the candidate loses at most ``max_drop`` accuracy vs the champion on the older holdout.

    ``candidate``/``champion`` are None when there is no older data (first retrain, replay off): the gate then
    passes with ``evaluated: false``, so the tag shows forgetting was not checked rather than hiding it.
    """
    name = "forgetting"
    if candidate is None or champion is None or n == 0:
        reason = "older holdout: none available (no older data given); forgetting not evaluated."
        return GateResult(name, True, reason, {"evaluated": False, "n": n, "max_drop": max_drop})
    short = _too_few(name, "older holdout", n, min_rows)
    if short is not None:
        return short
    if metric in ERROR_METRICS:
        return _error_forgetting(candidate, champion, n, max_drop, metric)
    drop = champion - candidate
    evidence = {
        "evaluated": True,
        "candidate": candidate,
        "champion": champion,
        "drop": drop,
        "max_drop": max_drop,
        "n": n,
    }
    if drop <= max_drop + _EPS:
        reason = (
            f"older holdout: candidate {candidate:.3f} vs champion {champion:.3f}, drop {drop:.3f} <= {max_drop:.3f} "
            f"({n} rows)."
        )
        return GateResult(name, True, reason, evidence)
    reason = (
        f"older holdout: candidate {candidate:.3f} lost {drop:.3f} > {max_drop:.3f} vs champion {champion:.3f} "
        f"({n} rows)."
    )
    return GateResult(name, False, reason, evidence)


def _error_forgetting(candidate: float, champion: float, n: int, max_drop: float, metric: str) -> GateResult:
    growth = (candidate - champion) / champion if champion > 0 else (0.0 if candidate <= 0 else float("inf"))
    evidence: dict[str, Any] = {"evaluated": True, "candidate": candidate, "champion": champion, "drop": growth}
    evidence |= {"max_drop": max_drop, "n": n, "metric": metric}
    ok = growth <= max_drop + _EPS
    reason = (
        f"older holdout: candidate {metric} {candidate:.3f} vs champion {champion:.3f}, grew {growth:+.1%} "
        f"{'<=' if ok else '>'} {max_drop:.1%} ({n} rows)."
    )
    return GateResult("forgetting", ok, reason, evidence)


def beats_constant_gate(
    candidate: float, constant: float, answer: str, n: int, min_rows: int = 1, metric: str = "accuracy"
) -> GateResult:
    """Pass when the candidate scores at least as well as the constant predictor ``answer`` on ``n`` holdout rows."""
    name = "beats_constant"
    short = _too_few(name, "recent holdout", n, min_rows)
    if short is not None:
        return short
    lower_is_better = metric in ERROR_METRICS
    ok = candidate <= constant + _EPS if lower_is_better else candidate >= constant - _EPS
    evidence = {"candidate": candidate, "constant": constant, "answer": answer, "n": n, "metric": metric}
    shown = f"{metric} " if lower_is_better else ""
    if ok:
        reason = f"recent holdout: candidate {shown}{candidate:.3f} beats {constant:.3f} of always answering {answer}"
    else:
        reason = f"recent holdout: candidate {shown}{candidate:.3f} {'>' if lower_is_better else '<'} {constant:.3f} of"
        reason += f" always answering {answer}"
    return GateResult(name, ok, f"{reason} ({n} rows).", evidence)


def combine(results: list[GateResult]) -> GateReport:
    """Every gate must pass; the reason lists the failed gates' reasons, in order."""
    failed = [r for r in results if not r.passed]
    if failed:
        return GateReport(False, " ".join(r.reason for r in failed), tuple(results))
    return GateReport(True, "all gates passed: " + " ".join(r.reason for r in results), tuple(results))
