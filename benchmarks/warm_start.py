"""Warm start vs cold start on a drifted window: epochs and training time to the accuracy cold start converges to.

    .venv/bin/python benchmarks/warm_start.py [--stream elec2|concept_drift|covariate_shift|...] [--max-epochs 30]
        [--seeds 5] [--family mlp|xgboost|all]

``--family xgboost``: the same question for boosting. Cold boosts a fresh booster round by round on the drifted
window (preprocessor refitted); warm continues the champion's booster (continued boosting, driftline's xgboost warm
start). Rounds play the part of epochs; the holdout is scored after every round outside the timed part.

Setup: a champion is trained (to convergence) on the old data; the drifted window comes later in the stream and
its newest quarter is the holdout. Cold start (fresh network, preprocessor refitted) trains ``--max-epochs``; its
converged accuracy is the mean holdout accuracy of its last 5 epochs and the target is that minus ``--tolerance``.
Warm start (the champion's weights and preprocessor) trains the same way. Both runs use the one training loop
(``driftline.train_jobs.loop.train_loop``) through a context that evaluates the holdout after each epoch, outside
the timed part. Then: accuracy on a holdout of the *old* distribution after warm retraining with and without
replay (reservoir of old rows at ``replay.fraction`` 0.3). The baseline (cold) is measured in the same run.

Every figure is over ``--seeds`` (at least 5) seeds of the champion, the initial weights, the reservoir and the
shuffling, each seed with its own cold-converged target. A warm start that is already at the target before any
training (epoch 0) is counted on its own: its ratio of 0 says the champion needed no retrain, not that warm
training is fast, so the epoch and time ratios are medians over the seeds where both starts had to train.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from xgboost.callback import TrainingCallback

from driftline.model.bundle import ModelBundle
from driftline.model.preprocess import TabularPreprocessor
from driftline.platform.backtest import load_backtest_stream
from driftline.train_jobs.evaluate import evaluate
from driftline.train_jobs.local_executor import encode_labels, fit_local
from driftline.train_jobs.loop import LoopConfig, train_loop
from driftline.train_jobs.replay import Reservoir, mix_replay, split_pool

HIDDEN = (32, 16)


@dataclass
class _TimedContext:
    """TrainContext that records (epoch, cumulative train seconds, holdout accuracy) after every epoch."""

    bundle: ModelBundle
    train: pd.DataFrame
    holdout: pd.DataFrame
    seed: int = 0
    world_rank: int = 0
    curve: list[tuple[int, float, float]] = field(default_factory=list)
    _train_s: float = 0.0
    _since: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        self.x = torch.from_numpy(self.bundle.preprocessor.transform(self.train))
        self.y = torch.from_numpy(encode_labels(self.train, self.bundle))
        self.curve.append((0, 0.0, evaluate(self.bundle, self.holdout).accuracy))
        self._since = time.perf_counter()

    def batches(self, epoch: int, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.y), generator=torch.Generator().manual_seed(self.seed * 1000 + epoch))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            yield self.x[idx], self.y[idx]

    def prepare_model(self, model: nn.Module) -> nn.Module:
        return model

    def report(self, metrics: dict[str, float], state: dict[str, Any] | None) -> None:
        self._train_s += time.perf_counter() - self._since  # evaluation below is not training time
        assert state is not None
        acc = evaluate(self.bundle.with_weights(state["model"]), self.holdout).accuracy
        self.curve.append((int(metrics["epoch"]) + 1, self._train_s, acc))
        self._since = time.perf_counter()

    def restore(self) -> dict[str, Any] | None:
        return None

    def should_inject_failure(self) -> bool:
        return False


def _curve(
    start: ModelBundle, train: pd.DataFrame, holdout: pd.DataFrame, epochs: int, seed: int
) -> list[tuple[int, float, float]]:
    ctx = _TimedContext(start, train, holdout, seed=seed)
    train_loop(ctx, LoopConfig(start.to_bytes(), epochs=epochs, batch_size=128, learning_rate=3e-3, seed=seed))
    return ctx.curve


def _reach(curve: list[tuple[int, float, float]], target: float) -> tuple[int, float] | None:
    for epoch, seconds, acc in curve:
        if acc >= target:
            return epoch, seconds
    return None


def _windows(stream_name: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, Any]:
    """(old data, drifted window train, drifted window holdout, schema) for a stream."""
    if stream_name == "elec2":
        s = load_backtest_stream("elec2", causal_features=False)
        f = s.frame
        old, window = f.iloc[:2688], f.iloc[17_000:19_688]  # 8 weeks in 1996 vs 8 weeks a year later
    else:
        s = load_backtest_stream(stream_name, n_rows=12_000, seed=7)
        cp = s.change_points[0]
        old, window = s.frame.iloc[: min(cp, 4000)], s.frame.iloc[cp : cp + 4000]
    cut = int(len(window) * 0.75)
    return old, window.iloc[:cut], window.iloc[cut:], s.schema


def run_seed(stream_name: str, seed: int, max_epochs: int, tolerance: float) -> dict[str, Any]:
    """One seed: champion, cold and warm curves, epochs to the target, forgetting with and without replay."""
    torch.set_num_threads(1)
    old, new_train, new_hold, schema = _windows(stream_name)
    old_pool = Reservoir(2000, seed=seed).add(old).sample()
    old_replay, old_hold = split_pool(old_pool, 0.3, seed=seed)
    champ0 = ModelBundle.create(TabularPreprocessor.fit(old, schema), HIDDEN, seed=seed)
    champion = fit_local(champ0, old, LoopConfig(champ0.to_bytes(), epochs=20, batch_size=128, seed=seed)).bundle
    cold_start = ModelBundle.create(TabularPreprocessor.fit(new_train, schema), HIDDEN, seed=seed + 1000)
    cold = _curve(cold_start, new_train, new_hold, max_epochs, seed)
    warm = _curve(champion, new_train, new_hold, max_epochs, seed)
    converged = float(np.mean([a for _, _, a in cold[-5:]]))
    target = converged - tolerance
    cold_hit, warm_hit = _reach(cold, target), _reach(warm, target)
    # Forgetting: warm-retrain for as many epochs as warm needed (at least 1), with and without replay.
    epochs = max(warm_hit[0] if warm_hit else max_epochs, 1)
    replayed = mix_replay(new_train, old_replay, 0.3, seed=seed)
    no_replay = fit_local(champion, new_train, LoopConfig(champion.to_bytes(), epochs=epochs, seed=seed)).bundle
    with_replay = fit_local(champion, replayed, LoopConfig(champion.to_bytes(), epochs=epochs, seed=seed)).bundle
    return {
        "seed": seed,
        "target": target,
        "cold": cold_hit,
        "warm": warm_hit,
        "champion_old": evaluate(champion, old_hold).accuracy,
        "old_no_replay": evaluate(no_replay, old_hold).accuracy,
        "old_replay": evaluate(with_replay, old_hold).accuracy,
        "new_no_replay": evaluate(no_replay, new_hold).accuracy,
        "new_replay": evaluate(with_replay, new_hold).accuracy,
        "replay_epochs": epochs,
    }


def summarize(stream_name: str, seeds: list[dict[str, Any]]) -> dict[str, Any]:
    """Across seeds: warm already at target at epoch 0 is counted apart (its ratio 0 would flatter the mean);
    the epoch and time ratios are medians over the seeds where both reached the target after training."""
    at_zero = [r for r in seeds if r["warm"] is not None and r["warm"][0] == 0]
    missed = [r for r in seeds if r["cold"] is None or r["warm"] is None]
    trained = [r for r in seeds if r not in at_zero and r not in missed and r["cold"][0] > 0]
    mean = {k: float(np.mean([r[k] for r in seeds])) for k in ("champion_old", "old_no_replay", "old_replay")}
    mean |= {k: float(np.mean([r[k] for r in seeds])) for k in ("new_no_replay", "new_replay", "target")}
    return {
        "stream": stream_name,
        "seeds": len(seeds),
        "at_target_epoch0": len(at_zero),
        "not_reached": len(missed),
        "compared": len(trained),
        "cold_epochs": _median([r["cold"][0] for r in seeds if r["cold"]]),
        "cold_seconds": _median([r["cold"][1] for r in seeds if r["cold"]]),
        "warm_epochs": _median([r["warm"][0] for r in trained]),
        "warm_seconds": _median([r["warm"][1] for r in trained]),
        "epoch_ratio": _median([r["warm"][0] / r["cold"][0] for r in trained]),
        "time_ratio": _median([r["warm"][1] / r["cold"][1] for r in trained if r["cold"][1] > 0]),
        **mean,
    }


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def _num(value: float | None, fmt: str = ".2f") -> str:
    return "n/a" if value is None else format(value, fmt)


class _RoundTimer(TrainingCallback):  # type: ignore[misc]
    """xgboost callback: (round, cumulative boosting seconds, holdout accuracy) after every round."""

    def __init__(self, holdout_x: np.ndarray, holdout_y: np.ndarray, n_classes: int, start_acc: float) -> None:
        super().__init__()
        self.x, self.y, self.k = holdout_x, holdout_y, n_classes
        self.curve: list[tuple[int, float, float]] = [(0, 0.0, start_acc)]
        self._train_s, self._since = 0.0, time.perf_counter()

    def before_training(self, model: Any) -> Any:
        self._since = time.perf_counter()
        return model

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        from driftline.model.families.xgboost_booster import booster_proba

        self._train_s += time.perf_counter() - self._since
        acc = float((booster_proba(model, self.x, self.k).argmax(axis=1) == self.y).mean())
        self.curve.append((len(self.curve), self._train_s, acc))
        self._since = time.perf_counter()
        return False


def _boost_curve(start: ModelBundle, train: pd.DataFrame, holdout: pd.DataFrame, rounds: int, seed: int) -> Any:
    from driftline.model.families.xgboost_booster import boost
    from driftline.train_jobs.batches import EncodedWindow

    window = EncodedWindow.encode(start, train)
    start_acc = evaluate(start, holdout).accuracy if start.booster else 0.0
    timer = _RoundTimer(
        start.preprocessor.transform(holdout), encode_labels(holdout, start), len(start.classes), start_acc
    )
    params = {k: v for k, v in start.params.items() if k not in ("num_boost_round", "warm_rounds")}
    boost(
        window.features,
        window.labels,
        n_classes=len(start.classes),
        params=params,
        rounds=rounds,
        seed=seed,
        init=start.booster,
        callbacks=[timer],
    )
    return timer.curve


def run_seed_xgboost(stream_name: str, seed: int, max_rounds: int, tolerance: float) -> dict[str, Any]:
    """One seed of the xgboost question: champion boosted on old data; cold vs continued boosting on the window."""
    from driftline.train_jobs.boosting import fit_booster_local

    old, new_train, new_hold, schema = _windows(stream_name)
    params = {"num_boost_round": 100, "max_depth": 4, "eta": 0.1, "subsample": 0.8}
    champ0 = ModelBundle.create_family("xgboost", TabularPreprocessor.fit(old, schema), params=params)
    champion = fit_booster_local(champ0, old, seed=seed).bundle
    cold_start = ModelBundle.create_family("xgboost", TabularPreprocessor.fit(new_train, schema), params=params)
    cold = _boost_curve(cold_start, new_train, new_hold, max_rounds, seed)
    warm = _boost_curve(champion, new_train, new_hold, max_rounds, seed)
    target = float(np.mean([a for _, _, a in cold[-5:]])) - tolerance
    return {"seed": seed, "target": target, "cold": _reach(cold, target), "warm": _reach(warm, target)}


def summarize_xgboost(stream_name: str, seeds: list[dict[str, Any]]) -> dict[str, Any]:
    at_zero = [r for r in seeds if r["warm"] is not None and r["warm"][0] == 0]
    missed = [r for r in seeds if r["cold"] is None or r["warm"] is None]
    trained = [r for r in seeds if r not in at_zero and r not in missed and r["cold"][0] > 0]
    return {
        "stream": stream_name,
        "seeds": len(seeds),
        "target": float(np.mean([r["target"] for r in seeds])),
        "at_target_epoch0": len(at_zero),
        "not_reached": len(missed),
        "compared": len(trained),
        "cold_rounds": _median([r["cold"][0] for r in seeds if r["cold"]]),
        "cold_seconds": _median([r["cold"][1] for r in seeds if r["cold"]]),
        "warm_rounds": _median([r["warm"][0] for r in trained]),
        "warm_seconds": _median([r["warm"][1] for r in trained]),
        "round_ratio": _median([r["warm"][0] / r["cold"][0] for r in trained]),
        "time_ratio": _median([r["warm"][1] / r["cold"][1] for r in trained if r["cold"][1] > 0]),
    }


def print_xgboost(results: list[dict[str, Any]]) -> None:
    print(
        "| stream (xgboost) | seeds | target acc (mean) | cold to target (median) | warm at target at round 0 "
        "| continued boosting to target (median) | not reached | round ratio | time ratio warm/cold |"
    )
    print("|---|---:|---:|---|---:|---|---:|---:|---:|")
    for r in results:
        cold = f"{_num(r['cold_rounds'], '.0f')} rounds / {_num(r['cold_seconds'], '.3f')} s"
        warm = f"{_num(r['warm_rounds'], '.0f')} rounds / {_num(r['warm_seconds'], '.3f')} s ({r['compared']} seeds)"
        print(
            f"| {r['stream']} | {r['seeds']} | {r['target']:.4f} | {cold} | {r['at_target_epoch0']} | {warm} "
            f"| {r['not_reached']} | {_num(r['round_ratio'])} | {_num(r['time_ratio'])} |"
        )
    for r in results:
        ratio = r["time_ratio"]
        if ratio is None:
            print(
                f"xgboost {r['stream']}: continued boosting at target before any round on "
                f"{r['at_target_epoch0']}/{r['seeds']} seeds"
            )
            continue
        verdict = "meets" if ratio <= 1 / 3 else "misses"
        print(
            f"xgboost {r['stream']}: at target before any round on {r['at_target_epoch0']}/{r['seeds']} seeds; on "
            f"the {r['compared']} others continued boosting needs {_num(ratio)}x cold's time ({verdict} <= 1/3)"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stream", action="append", help="elec2 or a synthetic scenario (repeatable)")
    p.add_argument("--max-epochs", type=int, default=30)
    p.add_argument("--seeds", type=int, default=5, help="seeds per stream (champion, init and shuffling)")
    p.add_argument("--tolerance", type=float, default=0.005, help="target = cold converged accuracy - this")
    p.add_argument("--family", choices=("mlp", "xgboost", "all"), default="all")
    p.add_argument("--max-rounds", type=int, default=200, help="xgboost: boosting rounds of each curve")
    args = p.parse_args()
    if args.seeds < 5:
        p.error("--seeds must be at least 5: one seed's epoch count is mostly noise")
    import os

    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    streams = args.stream or ["elec2", "concept_drift"]
    if args.family in ("xgboost", "all"):
        print_xgboost(
            [
                summarize_xgboost(
                    s, [run_seed_xgboost(s, seed, args.max_rounds, args.tolerance) for seed in range(args.seeds)]
                )
                for s in streams
            ]
        )
        print()
    if args.family == "xgboost":
        return
    results = [
        summarize(s, [run_seed(s, seed, args.max_epochs, args.tolerance) for seed in range(args.seeds)])
        for s in streams
    ]
    print(
        "| stream | seeds | target acc (mean) | cold to target (median) | warm already at target at epoch 0 "
        "| warm to target (median, trained seeds) | not reached | epoch ratio warm/cold (median) "
        "| time ratio warm/cold (median) |"
    )
    print("|---|---:|---:|---|---:|---|---:|---:|---:|")
    for r in results:
        cold = f"{_num(r['cold_epochs'], '.0f')} ep / {_num(r['cold_seconds'])} s"
        warm = f"{_num(r['warm_epochs'], '.0f')} ep / {_num(r['warm_seconds'])} s ({r['compared']} seeds)"
        print(
            f"| {r['stream']} | {r['seeds']} | {r['target']:.4f} | {cold} | {r['at_target_epoch0']} | {warm} "
            f"| {r['not_reached']} | {_num(r['epoch_ratio'])} | {_num(r['time_ratio'])} |"
        )
    print()
    print("| stream | champion on old | warm, no replay: old / new | warm + replay 0.3: old / new | seeds (means) |")
    print("|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['stream']} | {r['champion_old']:.4f} | {r['old_no_replay']:.4f} / {r['new_no_replay']:.4f} | "
            f"{r['old_replay']:.4f} / {r['new_replay']:.4f} | {r['seeds']} seeds |"
        )
    for r in results:
        ratio = r["time_ratio"]
        if ratio is None:
            print(f"{r['stream']}: warm at target before training on {r['at_target_epoch0']}/{r['seeds']} seeds")
            continue
        verdict = "meets" if ratio <= 1 / 3 else "misses"
        print(
            f"{r['stream']}: warm at target before training on {r['at_target_epoch0']}/{r['seeds']} seeds; on the "
            f"{r['compared']} others it needs {_num(ratio)}x cold's time ({verdict} the <= 1/3 target)"
        )


if __name__ == "__main__":
    main()
