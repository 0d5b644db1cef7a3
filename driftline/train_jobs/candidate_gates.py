"""The offline gates of one retrained model: it is evaluated against the champion, the constant predictor of its
training rows and (when there is one) the older holdout; see ``gates.py`` for each gate's rule."""

from __future__ import annotations

import pandas as pd

from driftline.model.bundle import ModelBundle
from driftline.train_jobs.evaluate import Evaluation, constant_predictor, evaluate
from driftline.train_jobs.gates import (
    GateReport,
    GateResult,
    beats_constant_gate,
    combine,
    forgetting_gate,
    not_worse_gate,
)
from driftline.train_jobs.retrain_config import RetrainConfig

__all__ = ["gate_candidate"]


def gate_candidate(
    rcfg: RetrainConfig,
    bundle: ModelBundle,
    champion: ModelBundle,
    train: pd.DataFrame,
    recent: pd.DataFrame,
    older: pd.DataFrame,
    extra: tuple[GateResult, ...] = (),
) -> tuple[GateReport, dict[str, float], Evaluation]:
    """Not worse than the champion and than a constant on the recent holdout; no forgetting on the older holdout
    (when there is one). ``extra``: results decided before (warm or cold), kept in the report."""
    cand_recent, champ_recent = evaluate(bundle, recent), evaluate(champion, recent)
    g = rcfg.gates
    m = cand_recent.metric  # accuracy, or rmse for a regression model
    constant = constant_predictor(bundle, train, recent)
    results = [
        not_worse_gate(cand_recent.score, champ_recent.score, cand_recent.n, g.margin, g.min_holdout_rows, m),
        beats_constant_gate(cand_recent.score, constant.score, constant.answer, cand_recent.n, g.min_holdout_rows, m),
    ]
    metrics = {f"recent_{m}": cand_recent.score, f"champion_recent_{m}": champ_recent.score}
    metrics[f"constant_recent_{m}"] = constant.score
    if len(older):
        cand_old, champ_old = evaluate(bundle, older), evaluate(champion, older)
        results.append(
            forgetting_gate(cand_old.score, champ_old.score, cand_old.n, g.max_forgetting, g.min_holdout_rows, m)
        )
        metrics |= {f"older_{m}": cand_old.score, f"champion_older_{m}": champ_old.score}
    else:
        results.append(forgetting_gate(None, None, 0, g.max_forgetting))
    return combine([*results, *extra]), metrics, cand_recent
