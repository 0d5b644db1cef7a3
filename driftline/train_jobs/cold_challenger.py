"""After a concept change, a warm start must first unlearn: a cold retrain on the same rows may win. Pure decisions.

:func:`concept_changed` says whether the champion's score on the recent holdout fell so far below the level it
had before (its baseline) that the concept moved; :func:`pick` compares the warm and the cold model on the recent
holdout and says which one is registered, as an informational gate result (it never rejects a candidate).

>>> concept_changed(champion=0.55, baseline=0.81, metric="accuracy", drop=0.1)
'the champion scores 0.550 on the recent holdout vs its baseline 0.810 (fell 0.260 >= 0.100)'
>>> concept_changed(champion=0.78, baseline=0.81, metric="accuracy", drop=0.1) is None
True
>>> cold_won, result = pick(warm=0.70, cold=0.78, metric="accuracy", n=200, why="always")
>>> cold_won, result.reason.split(": ", 1)[1]
(True, 'the cold retrain 0.780 beat the warm start 0.700 on the recent holdout (200 rows); registering the cold one.')
"""

from __future__ import annotations

from driftline.train_jobs.gates import ERROR_METRICS, GateResult

__all__ = ["concept_changed", "pick"]


def concept_changed(champion: float, baseline: float | None, metric: str, drop: float) -> str | None:
    """Why the concept moved (a sentence), or None: accuracy fell by ``drop`` or more below the baseline; for an
    error metric (rmse, mae) it rose by ``drop`` or more of the baseline."""
    if baseline is None or baseline != baseline or champion != champion:  # no baseline, or NaN
        return None
    if metric in ERROR_METRICS:
        rise = (champion - baseline) / baseline if baseline > 0 else 0.0
        if rise < drop:
            return None
        return (
            f"the champion's {metric} is {champion:.3f} on the recent holdout vs its baseline {baseline:.3f} "
            f"(rose {rise:.0%} >= {drop:.0%})"
        )
    fell = baseline - champion
    if fell < drop:
        return None
    return (
        f"the champion scores {champion:.3f} on the recent holdout vs its baseline {baseline:.3f} "
        f"(fell {fell:.3f} >= {drop:.3f})"
    )


def pick(warm: float, cold: float, metric: str, n: int, why: str) -> tuple[bool, GateResult]:
    """Whether the cold model wins (strictly better on the recent holdout), and the result that says so."""
    lower_is_better = metric in ERROR_METRICS
    cold_won = cold < warm if lower_is_better else cold > warm
    shown = f"{metric} " if lower_is_better else ""
    if cold_won:
        verdict = f"the cold retrain {shown}{cold:.3f} beat the warm start {warm:.3f}"
    else:
        verdict = f"the warm start {shown}{warm:.3f} held against the cold retrain {cold:.3f}"
    winner = "cold" if cold_won else "warm"
    reason = f"warm or cold ({why}): {verdict} on the recent holdout ({n} rows); registering the {winner} one."
    evidence = {"warm": warm, "cold": cold, "metric": metric, "n": n, "winner": winner, "why": why}
    return cold_won, GateResult("warm_or_cold", True, reason, evidence)
