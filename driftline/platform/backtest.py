"""Backtest of retrain strategies: replay a stream in time order, test-then-train, per policy x start variant.

Every window of ``window_rows`` rows is first predicted by the current model (prequential accuracy), then its
labels are revealed: a streaming detector (DDM) reads the error stream, the drift monitor builds a report of the
window against the model's reference profile (``driftline.monitors``: performance vs baseline with a one-sided
binomial test, feature drift, label shift), and the platform's retrain policy (``driftline.platform.policy``)
decides. Training uses the local executor (the same loop Ray Train runs). Variants:

- ``cold``: a fresh network and preprocessor on the last ``train_rows`` rows, ``cold_epochs`` epochs;
- ``warm``: the current model trained ``warm_epochs`` on the rows since the last retrain;
- ``warm+replay``: as ``warm`` plus a reservoir sample of all older rows at ``replay.fraction``.

A continual ``update`` is ``continual_steps`` optimiser steps on the new rows (cold: a cold retrain). Baselines on
the same evaluated rows: predicting the previous row's label, and the majority class.

A regression stream (no classes) is scored by RMSE and MAE per window and overall (``accuracy`` is then absent),
the monitor tests RMSE against the baseline, and the 0/1 error detector (DDM) is not fed: the triggered policy
acts on the report alone. Its baselines are the previous row's target and the training mean.

>>> from driftline.train_jobs.retrain_config import RetrainConfig
>>> stream = load_backtest_stream("concept_drift", n_rows=1200, seed=3)
>>> cfg = RetrainConfig(backtest={"window_rows": 200, "initial_rows": 400, "train_rows": 400, "cold_epochs": 2})
>>> rows = run_backtest(stream, ["periodic"], ["cold"], cfg)
>>> rows[0]["policy"], rows[0]["retrains"]
('periodic', 4)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import torch

from driftline.core.config_loader import load_yaml_model
from driftline.core.errors import ConfigError
from driftline.datasets import ELEC2_SCHEMA, SCENARIOS, SYNTHETIC_SCHEMA, DatasetSchema, generate_stream, load_elec2
from driftline.datasets.schema import FeatureKind, FeatureSpec
from driftline.datasets.synthetic import REGRESSION_SCHEMA
from driftline.model.bundle import ModelBundle
from driftline.model.preprocess import TabularPreprocessor
from driftline.platform.policy import DecisionKind, PolicyState, decide
from driftline.platform.policy_config import PolicyConfig, Strategy
from driftline.train_jobs.local_executor import encode_labels, fit_local
from driftline.train_jobs.loop import LoopConfig
from driftline.train_jobs.replay import Reservoir, mix_replay
from driftline.train_jobs.retrain_config import BacktestConfig, RetrainConfig

__all__ = ["POLICIES", "VARIANTS", "BacktestStream", "baselines", "load_backtest_stream", "run_backtest"]

POLICIES = ("never", "periodic", "triggered", "continual")
VARIANTS = ("cold", "warm", "warm+replay")
_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
_PROFILE_BINS = 100  # enough for per-window drift evidence; the product profile uses 1000


@dataclass(frozen=True)
class BacktestStream:
    """A labelled stream in time order with its schema and, for synthetic scenarios, the true change points."""

    name: str
    frame: pd.DataFrame
    schema: DatasetSchema
    change_points: list[int] = field(default_factory=list)


def _elec2_features(frame: pd.DataFrame) -> tuple[pd.DataFrame, DatasetSchema]:
    """Causal features: each uses the current row's inputs and *earlier* rows' labels only (no future).

    Deliberately *not* included: price minus its trailing 24-hour mean. It is causal, but Elec2's label is defined
    from exactly that quantity, so it reconstructs the target (0.93-0.99 accuracy) and says nothing about drift.
    """
    out = frame.copy()
    # The previous row's label is revealed before this row is predicted (test-then-train, one row at a time).
    out["prev_class"] = frame["class"].shift(1).fillna(0).astype(float)
    out["price_step"] = frame["nswprice"].diff().fillna(0.0)  # change since the previous half hour
    extra = tuple(FeatureSpec(n, FeatureKind.NUMERIC) for n in ("prev_class", "price_step"))
    schema = DatasetSchema((*ELEC2_SCHEMA.features, *extra), ELEC2_SCHEMA.label, ELEC2_SCHEMA.classes)
    return out, schema


def load_backtest_stream(
    name: str, *, n_rows: int = 20_000, seed: int = 7, causal_features: bool = True, elec2_path: str | None = None
) -> BacktestStream:
    """``elec2`` (from the configured path) or a synthetic scenario; Elec2 gets causal features when asked."""
    if name == "elec2":
        frame = load_elec2(elec2_path)
        if causal_features:
            frame, schema = _elec2_features(frame)
            return BacktestStream("elec2+causal", frame, schema)
        return BacktestStream("elec2", frame, ELEC2_SCHEMA)
    if name not in SCENARIOS:
        raise ConfigError("--stream", "stream", name, f"elec2 or a synthetic scenario: {', '.join(sorted(SCENARIOS))}")
    frame, truth = generate_stream(name, n_rows=n_rows, seed=seed)
    schema = REGRESSION_SCHEMA if name.startswith("regression") else SYNTHETIC_SCHEMA
    return BacktestStream(name, frame, schema, list(truth.change_points))


def backtest_policy(strategy: str, bcfg: BacktestConfig) -> PolicyConfig:
    """The policy a backtest runs: the base file (if any) with the strategy set; built-in values scale to windows.

    Built-in: periodic every window (weekly on Elec2); triggered on a significant accuracy decay (>= 0.05,
    p <= 0.001: the baseline is in-sample, so a stricter level keeps the false-alarm rate per window low) or the
    DDM detector, ignoring feature drift alone (Elec2's inputs drift every week without the model getting worse);
    a cooldown of one window, a budget that lets periodic retrain every window, a full window of new labels.
    """
    window = timedelta(seconds=bcfg.row_seconds * bcfg.window_rows)
    if bcfg.policy_file is not None:
        return load_yaml_model(bcfg.policy_file, PolicyConfig, {"strategy": strategy})
    return PolicyConfig.model_validate(
        {
            "strategy": strategy,
            "periodic": {"every_rows": bcfg.window_rows, "every": None},
            "triggers": {
                "performance_drop": 0.05,
                "significance": 0.001,
                "drift_share": None,
                "dataset_drift": False,
                "label_shift_tv": None,
                "detector": True,
            },
            "continual": {"min_labelled_rows": bcfg.window_rows, "steps": bcfg.continual_steps},
            "guards": {
                "cooldown": window * 0.99,  # one retrain per window at most (decisions happen at window ends)
                "max_retrains": 4,
                "budget_period": window * 4,
                "min_new_labelled_rows": bcfg.window_rows,
                "min_benefit": 0.02,
                "max_unaddressed": window * 4,
            },
        }
    )


def _accuracy(bundle: ModelBundle, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class index, correct) per row; regression: (predicted value, absolute error) per row."""
    if bundle.is_regression:
        values = bundle.predict_values(frame)
        return values, np.abs(values - encode_labels(frame, bundle))
    pred = bundle.predict_proba(frame).argmax(axis=1)
    return pred, pred == encode_labels(frame, bundle)


@dataclass
class _Run:
    """One policy x variant replay: the current model and everything the loop keeps between windows."""

    stream: BacktestStream
    cfg: RetrainConfig
    policy: PolicyConfig
    variant: str
    bundle: ModelBundle
    baseline: float
    profile: Any = None
    train_seconds: float = 0.0
    retrain_at: list[int] = field(default_factory=list)
    since: int = 0  # first row not yet trained on by a warm retrain/update

    def fit(self, end: int, *, update_steps: int | None = None, cold: bool = False) -> None:
        b, frame = self.cfg.backtest, self.stream.frame
        started = time.perf_counter()
        if cold or self.variant == "cold":
            data = frame.iloc[max(0, end - b.train_rows) : end]
            start = ModelBundle.create(TabularPreprocessor.fit(data, self.stream.schema), b.hidden_sizes, b.seed)
            epochs, steps = b.cold_epochs, None
        else:
            data = frame.iloc[max(self.since, end - b.train_rows, 0) : end]
            start = self.bundle
            epochs, steps = (1, update_steps) if update_steps else (b.warm_epochs, None)
            if self.variant == "warm+replay" and self.since > 0:
                pool = Reservoir(self.cfg.replay.pool_size, self.cfg.replay.seed).add(frame.iloc[: self.since])
                data = mix_replay(data, pool.sample(), self.cfg.replay.fraction, self.cfg.replay.seed + end)
        loop = LoopConfig(
            start.to_bytes(), epochs, b.batch_size, b.learning_rate, b.seed + end, max_steps_per_epoch=steps
        )
        self.bundle = fit_local(start, data, loop).bundle
        self.train_seconds += time.perf_counter() - started
        self.since = end
        self._set_reference(frame.iloc[max(0, end - b.train_rows) : end])

    def _set_reference(self, data: pd.DataFrame) -> None:
        from driftline.monitors.profile import build_reference_profile

        pred, correct = _accuracy(self.bundle, data)
        if self.bundle.is_regression:  # ``correct`` holds absolute errors
            base = {"rmse": float(np.sqrt(np.mean(correct**2))), "mae": float(correct.mean()), "n": float(len(data))}
            before = self.profile.baseline if self.profile is not None else {}
            if before.get("rmse", np.inf) < base["rmse"]:  # as the retrain job does: keep the level before the
                base = dict(before)  # shift, not the in-sample error of a window that straddles the change
            self.baseline = base["rmse"]
            self.profile = build_reference_profile(
                data, self.stream.schema, baseline=base, n_bins=_PROFILE_BINS, predictions=pred, sample_rows=0
            )
            return
        self.baseline = float(correct.mean())  # in-sample: optimistic by the (small) generalisation gap
        k = len(self.bundle.classes)
        y = encode_labels(data, self.bundle)
        cm = np.bincount(y * k + pred, minlength=k * k).reshape(k, k)
        base = {"accuracy": self.baseline, "n": float(len(data))}
        self.profile = build_reference_profile(
            data, self.stream.schema, confusion_matrix=cm, baseline=base, n_bins=_PROFILE_BINS, sample_rows=0
        )

    def report(self, window: pd.DataFrame, pred: np.ndarray) -> dict[str, Any]:
        from driftline.monitors.drift_config import DriftConfig
        from driftline.monitors.engine_memory import summarize_frame
        from driftline.monitors.report import build_report

        cols = [*self.stream.schema.feature_names, self.stream.schema.label]
        predicted = pred if self.bundle.is_regression else np.asarray(self.bundle.classes)[pred]
        current = window[cols].assign(prediction=predicted)
        # The Wasserstein kernel multiplies an infinite outer-bin width by 0 (harmless NaN it then ignores); keep
        # the resulting RuntimeWarning out of a 130-window backtest's console.
        with np.errstate(invalid="ignore"):
            return build_report(self.profile, summarize_frame(current, self.profile), DriftConfig())


def _replay(run: _Run) -> dict[str, Any]:
    from driftline.monitors.detectors import DDM

    b, frame = run.cfg.backtest, run.stream.frame
    run.fit(b.initial_rows, cold=True)  # every variant starts from the same cold-trained first model
    state = PolicyState.start(_EPOCH + timedelta(seconds=b.initial_rows * b.row_seconds))
    detector = DDM()
    regression = run.stream.schema.is_regression
    correct_total, seen_total, over_time = 0.0, 0, []
    abs_total, sq_total = 0.0, 0.0
    for start in range(b.initial_rows, len(frame), b.window_rows):
        window = frame.iloc[start : start + b.window_rows]
        end = start + len(window)
        pred, correct = _accuracy(run.bundle, window)
        seen_total += len(window)
        fired = False
        if regression:  # ``correct`` holds absolute errors
            abs_total += float(correct.sum())
            sq_total += float((correct**2).sum())
            over_time.append([end, float(np.sqrt(np.mean(correct**2)))])
        else:
            correct_total += int(correct.sum())
            over_time.append([end, float(correct.mean())])
            for ok in correct:
                fired = detector.update(0 if ok else 1).drift_detected or fired
        report = run.report(window, pred) if run.policy.strategy is Strategy.TRIGGERED else None
        now = _EPOCH + timedelta(seconds=end * b.row_seconds)
        state = state.observe(len(window), len(window), detector_fired=fired)
        decision = decide(state, report, now, run.policy)
        if decision.kind is DecisionKind.RETRAIN:
            run.fit(end)
            run.retrain_at.append(end)
            detector = DDM()
        elif decision.kind is DecisionKind.UPDATE:
            run.fit(end, update_steps=decision.steps)
            run.retrain_at.append(end)
        state = state.after(decision, now)
    scores: dict[str, Any] = (
        {"rmse": float(np.sqrt(sq_total / max(seen_total, 1))), "mae": abs_total / max(seen_total, 1)}
        if regression
        else {"accuracy": correct_total / max(seen_total, 1)}
    )
    return {
        "stream": run.stream.name,
        "policy": run.policy.strategy.value,
        "variant": run.variant,
        **scores,
        "retrains": len(run.retrain_at),
        "train_seconds": round(run.train_seconds, 3),
        "retrain_at": run.retrain_at,
        ("rmse_over_time" if regression else "accuracy_over_time"): over_time,
        "evaluated_rows": seen_total,
    }


def _regression_baselines(stream: BacktestStream, first_row: int) -> list[dict[str, Any]]:
    """The previous row's target, and the mean of the rows before ``first_row``, scored on rows ``first_row:``."""
    y = stream.frame[stream.schema.label].to_numpy(dtype=np.float64)
    evaluated = y[first_row:]
    guesses = {"previous_label": y[first_row - 1 : -1], "training_mean": np.full(len(evaluated), y[:first_row].mean())}
    return [
        {
            "stream": stream.name,
            "policy": "baseline",
            "variant": name,
            "rmse": float(np.sqrt(np.mean((guess - evaluated) ** 2))),
            "mae": float(np.mean(np.abs(guess - evaluated))),
            "retrains": 0,
            "train_seconds": 0.0,
            "retrain_at": [],
            "rmse_over_time": [],
        }
        for name, guess in guesses.items()
    ]


def baselines(stream: BacktestStream, first_row: int) -> list[dict[str, Any]]:
    """Predict-previous-label and majority-class accuracy on rows ``first_row:`` (and previous-label overall);
    for regression, RMSE/MAE of the previous row's target and of the training mean."""
    if stream.schema.is_regression:
        return _regression_baselines(stream, max(first_row, 1))
    y = stream.frame[stream.schema.label].to_numpy()
    prev = (y[1:] == y[:-1]).astype(float)  # row i+1 predicted by row i's label
    evaluated = prev[max(first_row - 1, 0) :]
    values, counts = np.unique(y[first_row:], return_counts=True)
    return [
        {
            "stream": stream.name,
            "policy": "baseline",
            "variant": "previous_label",
            "accuracy": float(evaluated.mean()),
            "accuracy_whole_stream": float(prev.mean()),
            "retrains": 0,
            "train_seconds": 0.0,
            "retrain_at": [],
            "accuracy_over_time": [],
        },
        {
            "stream": stream.name,
            "policy": "baseline",
            "variant": f"majority (class {values[counts.argmax()]})",
            "accuracy": float(counts.max() / counts.sum()),
            "retrains": 0,
            "train_seconds": 0.0,
            "retrain_at": [],
            "accuracy_over_time": [],
        },
    ]


def run_backtest(
    stream: BacktestStream,
    policies: list[str] | tuple[str, ...] = POLICIES,
    variants: list[str] | tuple[str, ...] = VARIANTS,
    cfg: RetrainConfig | None = None,
    *,
    with_baselines: bool = False,
) -> list[dict[str, Any]]:
    """One row per policy x variant (``never`` trains once, so its variants share one replay)."""
    cfg = cfg or RetrainConfig()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny MLPs: one thread is 4-6x faster than many contending ones on a shared box
    try:
        return _run_all(stream, policies, variants, cfg, with_baselines)
    finally:
        torch.set_num_threads(threads)


def _run_all(
    stream: BacktestStream,
    policies: list[str] | tuple[str, ...],
    variants: list[str] | tuple[str, ...],
    cfg: RetrainConfig,
    with_baselines: bool,
) -> list[dict[str, Any]]:
    b = cfg.backtest
    if b.initial_rows + b.window_rows > len(stream.frame):
        raise ConfigError("backtest", "initial_rows", b.initial_rows, f"< stream rows ({len(stream.frame)}) - window")
    for name, given, valid in (("policies", policies, POLICIES), ("variants", variants, VARIANTS)):
        bad = [p for p in given if p not in valid]
        if bad:
            raise ConfigError("backtest", name, bad, f"a subset of {', '.join(valid)}")
    rows: list[dict[str, Any]] = []
    for policy in policies:
        never_row: dict[str, Any] | None = None
        for variant in variants:
            if policy == "never" and never_row is not None:
                rows.append({**never_row, "variant": variant, "note": "identical to the first never row"})
                continue
            pcfg = backtest_policy(policy, b)
            run = _Run(
                stream,
                cfg,
                pcfg,
                "cold" if policy == "never" else variant,
                bundle=_placeholder(stream, b),
                baseline=0.0,
            )
            row = {**_replay(run), "variant": variant}
            never_row = row if policy == "never" else None
            rows.append(row)
    return [*rows, *(baselines(stream, b.initial_rows) if with_baselines else [])]


def _placeholder(stream: BacktestStream, b: BacktestConfig) -> ModelBundle:
    """An untrained bundle; the run's first ``fit`` (cold, on the initial rows) replaces it."""
    return ModelBundle.create(
        TabularPreprocessor.fit(stream.frame.iloc[: b.initial_rows], stream.schema), b.hidden_sizes, b.seed
    )
