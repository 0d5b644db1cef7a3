"""Retrain job: new window -> warm start from the champion -> replay -> Ray Train -> offline gates -> MLflow.

The new version is always registered, with lineage tags (``driftline.parent_version``, ``driftline.trigger``,
``driftline.data_window``, ``driftline.drift_report_run``, ``driftline.gates``); it gets the alias ``candidate``
only if every gate passed, else it keeps ``driftline.rejected_reason`` and no alias. The champion alias is never
touched here. A window with too few labelled rows, or no champion, is a documented skip, not an error.

    python -m driftline.train_jobs.retrain --config configs/local.yaml --retrain-config configs/retrain.yaml \\
        --window-rows 6000:8000 --trigger "accuracy decayed 0.86 -> 0.62"
    ray job submit --working-dir . -- python -m driftline.train_jobs.retrain --window data/window.parquet
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

import pandas as pd

from driftline.core.config import DriftlineConfig
from driftline.core.config_loader import load_config
from driftline.core.errors import DataError, DriftlineError
from driftline.core.timing import PhaseTimer
from driftline.datasets import load_training_data
from driftline.model.bundle import ModelBundle
from driftline.model.registry import ModelRegistry
from driftline.train_jobs.candidate import register_candidate
from driftline.train_jobs.candidate_gates import gate_candidate
from driftline.train_jobs.cold_challenger import concept_changed, pick
from driftline.train_jobs.evaluate import evaluate
from driftline.train_jobs.family_fit import fit_family_local, fit_family_on_ray
from driftline.train_jobs.gates import GateReport, GateResult
from driftline.train_jobs.loop import LoopConfig
from driftline.train_jobs.ray_executor import unique_run_name
from driftline.train_jobs.retrain_config import ColdChallenger, Executor, RetrainConfig, load_retrain_config
from driftline.train_jobs.retrain_window import (
    baseline_before_shift,
    describe_window,
    labelled_rows,
    load_window,
    parent_baseline,
    split_window,
)
from driftline.train_jobs.warm_start import load_champion, start_bundle

__all__ = ["RetrainOutcome", "RetrainStatus", "load_window", "main", "run_retrain"]


class RetrainStatus(str, Enum):
    CANDIDATE = "candidate"  # registered and aliased 'candidate'
    REJECTED = "rejected"  # registered, failed a gate, no alias
    SKIPPED = "skipped"  # nothing trained (no champion, too few labelled rows)


@dataclass(frozen=True)
class RetrainOutcome:
    """What a retrain did and why; ``to_dict()`` is what the CLI prints."""

    status: RetrainStatus
    reason: str
    version: str | None = None
    parent_version: str | None = None
    run_name: str | None = None
    gates: GateReport | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase (PhaseTimer), in the order run

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "reason": self.reason,
            "version": self.version,
            "parent_version": self.parent_version,
            "run_name": self.run_name,
            "gates": self.gates.to_dict() if self.gates else None,
            "metrics": self.metrics,
            "epochs_run": [int(h.get("epoch", -1)) for h in self.history],
            "seconds": round(self.seconds, 2),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


def _fit(
    cfg: DriftlineConfig,
    rcfg: RetrainConfig,
    start: ModelBundle,
    train: pd.DataFrame,
    loop: LoopConfig,
    timer: PhaseTimer,
) -> tuple[ModelBundle, list[dict[str, float]], str]:
    """Train ``start`` (any family; warm or cold) on ``train``, in this process or on Ray Train."""
    if rcfg.executor is Executor.LOCAL:
        with timer.phase("epochs"):
            local = fit_family_local(start, train, loop)
        return local.bundle, local.history, unique_run_name("retrain-local")
    from driftline.core.ray_runtime import ensure_ray
    from driftline.train_jobs.ray_settings import workers_for

    with timer.phase("ray_start"):
        ensure_ray(cfg)
    result = fit_family_on_ray(
        start,
        train,
        loop,
        num_workers=workers_for(len(train), cfg.train.num_workers, rcfg.min_rows_per_worker),
        cpus_per_worker=cfg.train.cpus_per_worker,
        storage_path=cfg.workdir_path / "ray_results",
        run_prefix="retrain",
        max_failures=rcfg.max_failures,
    )
    timer.update(result.timings)
    return result.bundle, result.history, result.run_name


def _params(rcfg: RetrainConfig, new_rows: int, replay_rows: int) -> dict[str, Any]:
    """The MLflow params of a retrain."""
    return {
        "epochs": rcfg.epochs,
        "warm_start": rcfg.warm_start.enabled,
        "replay_fraction": rcfg.replay.fraction,
        "new_rows": new_rows,
        "replay_rows": replay_rows,
        "executor": rcfg.executor.value,
    }


def _loop_config(
    rcfg: RetrainConfig, start: ModelBundle, fail_at_epoch: int | None, warm: bool | None = None
) -> LoopConfig:
    warm = rcfg.warm_start.enabled if warm is None else warm
    return LoopConfig(
        initial_bundle=start.to_bytes(),
        epochs=rcfg.epochs,
        batch_size=rcfg.batch_size,
        learning_rate=rcfg.learning_rate,
        seed=rcfg.seed,
        max_steps_per_epoch=rcfg.max_steps_per_epoch,
        shrink=rcfg.warm_start.shrink if warm else None,
        perturb=rcfg.warm_start.perturb,
        fail_at_epoch=fail_at_epoch,
    )


def run_retrain(
    cfg: DriftlineConfig,
    retrain_cfg: RetrainConfig,
    window: str | Path | pd.DataFrame,
    *,
    older: pd.DataFrame | None = None,
    trigger: str = "manual",
    drift_report_run: str | None = None,
    data_window: str | None = None,
    fail_at_epoch: int | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> RetrainOutcome:
    """Retrain on ``window`` (labelled rows, time order), gate against the champion, register; see module doc.

    ``older`` is data from before the window (e.g. the champion's training data): a reservoir of it feeds replay
    and the forgetting gate. ``fail_at_epoch`` kills a Ray Train worker once at that epoch (fault-injection tests).
    """
    started, timer = time.perf_counter(), PhaseTimer()
    rcfg = retrain_cfg
    with timer.phase("load_champion"):
        registry = ModelRegistry(cfg)
        registry.experiment_id()  # fails fast with RegistryError when MLflow is unreachable, before any work
        progress(f"loading the {rcfg.champion_alias}")
        loaded = load_champion(registry, rcfg.champion_alias)
    if loaded is None:
        reason = (
            f"skip: registered model {registry.name!r} has no alias {rcfg.champion_alias!r} to warm-start from; "
            "train one first (`driftline train`)."
        )
        return RetrainOutcome(RetrainStatus.SKIPPED, reason, seconds=time.perf_counter() - started)
    champion, parent = loaded
    if champion.family == "pyfunc" and cfg.model.retrain == "none":
        reason = (
            f"skip: the champion is your MLflow model {champion.uri} and model.retrain is none; register a candidate "
            "yourself and roll it out, or set model.retrain to your fit(train, valid, init_model) function."
        )
        return RetrainOutcome(
            RetrainStatus.SKIPPED, reason, parent_version=parent, seconds=time.perf_counter() - started
        )
    labelled = labelled_rows(load_window(window), champion.preprocessor.schema)
    if len(labelled) < rcfg.min_labelled_rows:
        reason = (
            f"skip: the window has {len(labelled)} labelled rows (< min_labelled_rows={rcfg.min_labelled_rows}); "
            "wait for more feedback."
        )
        return RetrainOutcome(
            RetrainStatus.SKIPPED, reason, parent_version=parent, seconds=time.perf_counter() - started
        )
    job = _Job(cfg, rcfg, registry, champion, parent, timer, progress)
    outcome = job.run(labelled, older, fail_at_epoch, trigger, drift_report_run, data_window)
    return replace(outcome, seconds=time.perf_counter() - started, timings=timer.seconds)


@dataclass(frozen=True)
class _Job:
    """One retrain once the champion and the labelled window are known: split, fit, gate, register."""

    cfg: DriftlineConfig
    rcfg: RetrainConfig
    registry: ModelRegistry
    champion: ModelBundle
    parent: str
    timer: PhaseTimer
    progress: Callable[[str], None]

    def _cold_challenge(self, recent: pd.DataFrame) -> str | None:
        """Why a cold retrain should compete with the warm start (config always, or a concept change), or None."""
        g = self.rcfg.gates
        if g.cold_challenger is ColdChallenger.NEVER:
            return None
        if g.cold_challenger is ColdChallenger.ALWAYS:
            return "always"
        champion = evaluate(self.champion, recent)
        before = parent_baseline(self.registry, self.parent).get(champion.metric)
        return concept_changed(champion.score, before, champion.metric, g.concept_change_drop)

    def run(
        self,
        labelled: pd.DataFrame,
        older: pd.DataFrame | None,
        fail_at_epoch: int | None,
        trigger: str,
        drift_report_run: str | None,
        data_window: str | None,
    ) -> RetrainOutcome:
        rcfg, timer = self.rcfg, self.timer
        with timer.phase("prepare"):
            new_train, recent, train, older_holdout = split_window(rcfg, self.champion, labelled, older)
            start = start_bundle(self.champion, train, warm=rcfg.warm_start.enabled, seed=rcfg.seed)
            loop = _loop_config(rcfg, start, fail_at_epoch)
        replayed = len(train) - len(new_train)
        self.progress(f"training ({rcfg.executor.value}) on {len(new_train)} new + {replayed} replayed rows")
        if start.family == "pyfunc":
            from driftline.train_jobs.pyfunc_fit import fit_pyfunc

            on_ray = rcfg.executor is Executor.RAY
            with timer.phase("user_fit"):
                bundle = fit_pyfunc(
                    self.registry,
                    start,
                    train,
                    self.cfg.model.retrain,
                    on_ray=on_ray,
                    cpus=self.cfg.train.cpus_per_worker,
                )
            history: list[dict[str, float]] = []
            run_name = unique_run_name("retrain-pyfunc")
        else:
            bundle, history, run_name = _fit(self.cfg, rcfg, start, train, loop, timer)
        warm = rcfg.warm_start.enabled
        challenge = self._cold_challenge(recent) if warm and start.family != "pyfunc" else None
        extra: tuple[GateResult, ...] = ()
        if challenge is not None:
            self.progress(f"a cold retrain on the same rows competes ({challenge})")
            cold_start = start_bundle(self.champion, train, warm=False, seed=rcfg.seed)
            with timer.phase("cold_challenger"):
                cold, cold_history, cold_run = _fit(
                    self.cfg, rcfg, cold_start, train, _loop_config(rcfg, cold_start, None, warm=False), timer
                )
            warm_eval, cold_eval = evaluate(bundle, recent), evaluate(cold, recent)
            cold_won, result = pick(warm_eval.score, cold_eval.score, warm_eval.metric, warm_eval.n, challenge)
            extra = (result,)
            if cold_won:
                bundle, history, run_name, warm = cold, cold_history, cold_run, False
        self.progress("offline gates")
        with timer.phase("gates"):
            report, metrics, cand_recent = gate_candidate(
                rcfg, bundle, self.champion, train, recent, older_holdout, extra
            )
        status = RetrainStatus.CANDIDATE if report.passed else RetrainStatus.REJECTED
        self.progress("registering in MLflow")
        lineage = {
            "driftline.role": status.value,
            "driftline.parent_version": self.parent,
            "driftline.trigger": trigger[:4000],
            "driftline.data_window": data_window or describe_window(labelled, self.champion.preprocessor.schema),
            "driftline.drift_report_run": drift_report_run or "none",
            "driftline.warm_start": "champion" if warm else "cold",
            "driftline.replay_rows": str(replayed),
            "driftline.ray_run": run_name,
        }
        final_loss = float(history[-1].get("train_loss", 0.0)) if history else 0.0
        with timer.phase("mlflow_register"):
            baseline = baseline_before_shift(self.registry, self.parent, cand_recent, len(new_train))
            registered = register_candidate(
                self.registry,
                bundle,
                report,
                profile_rows=new_train,
                evaluation=cand_recent,
                example=recent,
                metrics={**metrics, "final_train_loss": final_loss},
                params=_params(rcfg, len(new_train), replayed),
                tags=lineage,
                run_name=run_name,
                baseline=baseline,
            )
        verdict = "is the candidate" if report.passed else "rejected (kept without alias)"
        reason = f"version {registered.version} {verdict}: {report.reason}"
        return RetrainOutcome(
            status, reason, registered.version, self.parent, run_name, report, metrics, history, registered.tags
        )


# ---------------------------------------------------------------------------------------------------------------------
# Command line (also what `ray job submit -- python -m driftline.train_jobs.retrain ...` runs)
# ---------------------------------------------------------------------------------------------------------------------


def stream_slice(cfg: DriftlineConfig, spec: str) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Rows ``START:END`` of the configured stream as the window, and the rows before it as older data."""
    try:
        start_s, end_s = spec.split(":")
        start, end = int(start_s), int(end_s)
    except ValueError:
        raise DataError(f"--window-rows {spec!r} is not START:END.", "Use e.g. --window-rows 6000:8000.") from None
    stream, _ = load_training_data(cfg)
    if not 0 <= start < end <= len(stream):
        raise DataError(f"--window-rows {spec} is outside the stream's {len(stream)} rows.", "Pick rows inside it.")
    return stream.iloc[start:end], stream.iloc[:start], f"{stream_name(cfg)} rows {start}:{end}"


def stream_name(cfg: DriftlineConfig) -> str:
    """``dataset:PATH``, ``synthetic:SCENARIO`` or ``elec2:elec2`` (lineage tags say which data a model saw)."""
    if cfg.dataset is not None:
        return f"dataset:{cfg.dataset.path}"
    name = cfg.data.scenario if cfg.data.source.value == "synthetic" else cfg.data.source.value
    return f"{cfg.data.source.value}:{name}"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m driftline.train_jobs.retrain", description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, default=None, help="driftline YAML (default: embedded local defaults)")
    p.add_argument("--retrain-config", type=Path, default=None, help="retrain YAML (default: embedded defaults)")
    p.add_argument("--workdir", type=Path, default=None, help="work folder (env DRIFTLINE_WORKDIR)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--window", type=Path, help="Parquet file/folder of labelled rows (the new window)")
    src.add_argument("--window-rows", help="START:END rows of the configured stream (synthetic or elec2)")
    p.add_argument("--older", type=Path, default=None, help="Parquet of older data for replay and forgetting gate")
    p.add_argument("--trigger", default="manual", help="why this retrain runs (the policy decision's reason)")
    p.add_argument("--drift-report-run", default=None, help="MLflow run id of the drift report that triggered it")
    p.add_argument("--executor", choices=[e.value for e in Executor], default=None, help="override retrain executor")
    p.add_argument("--json-out", type=Path, default=None, help="also write the outcome JSON here")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one retrain from the command line; prints the outcome as JSON. Exit 2 on a driftline error."""
    args = build_parser().parse_args(argv)
    try:
        cfg = load_config(args.config, workdir=args.workdir)
        rcfg = load_retrain_config(args.retrain_config)
        if args.executor:
            rcfg = rcfg.model_copy(update={"executor": Executor(args.executor)})
        older: pd.DataFrame | None
        if args.window_rows:
            window, older, described = stream_slice(cfg, args.window_rows)
        else:
            window, described = load_window(args.window), None
            older = load_window(args.older) if args.older else None
        outcome = run_retrain(
            cfg,
            rcfg,
            window,
            older=older,
            trigger=args.trigger,
            drift_report_run=args.drift_report_run,
            data_window=described,
            progress=lambda m: print(f"[retrain] {m}", file=sys.stderr, flush=True),
        )
    except DriftlineError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    text = json.dumps(outcome.to_dict(), indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
