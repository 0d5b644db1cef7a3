"""Train the first champion on Ray Train, register it in MLflow with its reference profile, alias it ``champion``.

driftline train [--config FILE]      # also: python -m driftline train [--config FILE]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from driftline.core.config import DriftlineConfig
from driftline.core.errors import DataError
from driftline.core.ray_runtime import ensure_ray
from driftline.datasets import load_training_data
from driftline.model.bundle import ModelBundle
from driftline.model.preprocess import TabularPreprocessor
from driftline.model.registry import CHAMPION, ModelRegistry, RegisteredVersion
from driftline.train_jobs.candidate import profile_json
from driftline.train_jobs.evaluate import Evaluation, evaluate
from driftline.train_jobs.family_fit import fit_family_on_ray
from driftline.train_jobs.loop import LoopConfig
from driftline.train_jobs.ray_executor import unique_run_name

__all__ = ["ChampionResult", "split_time_ordered", "train_champion"]


@dataclass(frozen=True)
class ChampionResult:
    version: RegisteredVersion
    val_accuracy: float  # NaN for a regression model (see ``evaluation``)
    train_rows: int
    val_rows: int
    seconds: float
    evaluation: Evaluation | None = None

    @property
    def quality(self) -> str:
        """The validation score in words: 'validation accuracy 0.812' or 'validation RMSE 1.23, MAE 0.98'."""
        e = self.evaluation
        if e is not None and e.is_regression:
            return f"validation RMSE {e.rmse:.4g}, MAE {e.mae:.4g}"
        return f"validation accuracy {self.val_accuracy:.3f}"


def split_time_ordered(frame: pd.DataFrame, validation_fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train on the older rows, validate on the newest ones (never shuffle a stream across time)."""
    cut = int(len(frame) * (1.0 - validation_fraction))
    if cut < 10 or len(frame) - cut < 10:
        raise DataError(f"{len(frame)} rows are too few to split.", "Use train.train_rows >= 50.")
    return frame.iloc[:cut].reset_index(drop=True), frame.iloc[cut:].reset_index(drop=True)


def train_champion(cfg: DriftlineConfig, progress: Callable[[str], None] = lambda _: None) -> ChampionResult:
    """Data -> Ray Train -> evaluation -> MLflow version -> alias ``champion``."""
    started = pd.Timestamp.now()
    progress("loading data")
    stream, schema = load_training_data(cfg)
    if cfg.dataset is not None:
        target = f"classes {list(schema.classes)}" if schema.classes else f"regression target '{schema.label}'"
        progress(f"read {len(stream):,} rows of {cfg.dataset.path}: {len(schema.features)} features, {target}")
    window = stream.iloc[: cfg.train.train_rows]
    train, val = split_time_ordered(window, cfg.train.validation_fraction)
    bundle = ModelBundle.create_family(
        cfg.model.family.value,
        TabularPreprocessor.fit(train, schema),
        hidden_sizes=cfg.train.hidden_sizes,
        factory=cfg.model.factory,
        params={**cfg.model.params, **({"uri": cfg.model.uri} if cfg.model.uri else {})},
        seed=cfg.train.seed,
    )
    loop = LoopConfig(
        initial_bundle=bundle.to_bytes(),
        epochs=cfg.train.epochs,
        batch_size=cfg.train.batch_size,
        learning_rate=cfg.train.learning_rate,
        seed=cfg.train.seed,
    )
    registry = ModelRegistry(cfg)  # first: it points MLflow at this config's store (a pyfunc champion loads from it)
    history: list[dict[str, float]] = []
    run_name = unique_run_name("champion-pyfunc")
    tags = {"driftline.role": "champion", "driftline.trigger": "initial"}
    if bundle.family == "pyfunc":  # the user's model is trained already: driftline profiles, gates and serves it
        from driftline.model.families.pyfunc_model import NO_PROBABILITIES, pyfunc_proba

        progress(f"taking your MLflow model {bundle.uri} as the champion")
        columns = val[list(schema.feature_names)].head(20)
        has_proba = schema.is_regression or pyfunc_proba(bundle.build_network(), columns, bundle.classes, bundle.uri)[1]
        if not has_proba:
            progress(f"note: {NO_PROBABILITIES}")
            tags["driftline.probabilities"] = "none"
    else:
        ensure_ray(cfg)
        progress(f"training {bundle.family} on Ray Train ({cfg.train.num_workers} worker(s), {len(train)} rows)")
        result = fit_family_on_ray(
            bundle,
            train,
            loop,
            num_workers=cfg.train.num_workers,
            cpus_per_worker=cfg.train.cpus_per_worker,
            storage_path=cfg.workdir_path / "ray_results",
            run_prefix="champion",
        )
        bundle, history, run_name = result.bundle, result.history, result.run_name
    progress("evaluating and registering in MLflow")
    evaluation = evaluate(bundle, val)
    final_loss = float(history[-1].get("train_loss", 0.0)) if history else 0.0
    version = registry.register(
        bundle,
        profile_json=profile_json(train, schema, evaluation),
        example=val,
        metrics={**evaluation.metrics(), "final_train_loss": final_loss},
        params={"family": bundle.family, "epochs": cfg.train.epochs, "rows": len(train), **_family_params(cfg)},
        tags={**tags, "driftline.ray_run": run_name},
        run_name=run_name,
    )
    registry.set_alias(CHAMPION, version.version, reason=f"initial champion ({evaluation_summary(evaluation)})")
    seconds = (pd.Timestamp.now() - started).total_seconds()
    return ChampionResult(version, evaluation.accuracy, len(train), len(val), seconds, evaluation)


def evaluation_summary(evaluation: Evaluation) -> str:
    if evaluation.is_regression:
        return f"driftline train: validation RMSE {evaluation.rmse:.4g} on {evaluation.n} rows"
    return f"driftline train: validation accuracy {evaluation.accuracy:.3f} on {evaluation.n} rows"


def _family_params(cfg: DriftlineConfig) -> dict[str, object]:
    if cfg.model.family.value == "mlp":
        return {"hidden_sizes": list(cfg.train.hidden_sizes)}
    named = {"factory": cfg.model.factory, "uri": cfg.model.uri}
    return {**{k: v for k, v in named.items() if v}, **{f"model.{k}": v for k, v in cfg.model.params.items()}}
