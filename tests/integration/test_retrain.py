"""Retrain end to end: Ray Train + MLflow lineage, gates, fault injection, and every bad input leaving the champion.

The registry is shared with other tests of the session: versions are compared to what each test registered, and
the candidate alias is only checked against this test's own version.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pandas as pd
import pytest

from driftline.core.config import DriftlineConfig
from driftline.core.errors import DataError, ModelNotFoundError, RegistryError
from driftline.datasets import load_stream
from driftline.model.registry import CANDIDATE, CHAMPION, ModelRegistry
from driftline.train_jobs.retrain import RetrainStatus, run_retrain
from driftline.train_jobs.retrain_config import RetrainConfig

LINEAGE = ("driftline.parent_version", "driftline.trigger", "driftline.data_window", "driftline.drift_report_run")


@pytest.fixture(scope="module")
def stream(cfg: DriftlineConfig) -> pd.DataFrame:
    frame, _ = load_stream(cfg.data)  # concept_drift, 8000 rows: the concept flips at row 4000
    return frame


def _rcfg(executor: str = "ray", **extra: object) -> RetrainConfig:
    base = {"executor": executor, "epochs": 3, "replay": {"pool_size": 600}, "gates": {"margin": 0.05}}
    return RetrainConfig.model_validate({**base, **extra})


def test_ray_retrain_registers_a_gated_candidate_with_lineage(cfg, champion, stream) -> None:
    registry = ModelRegistry(cfg)
    champ = registry.alias_version(CHAMPION)
    out = run_retrain(
        cfg,
        _rcfg(),
        stream.iloc[2000:4000],
        older=stream.iloc[:2000],
        trigger="accuracy decayed",
        drift_report_run="r1",
    )
    assert out.status is RetrainStatus.CANDIDATE, out.reason
    assert registry.alias_version(CANDIDATE) == out.version
    assert registry.alias_version(CHAMPION) == champ == out.parent_version  # training never moves the champion
    tags = registry.version_tags(out.version)
    assert all(k in tags for k in LINEAGE)
    assert tags["driftline.parent_version"] == champ and tags["driftline.drift_report_run"] == "r1"
    assert tags["driftline.trigger"] == "accuracy decayed" and "driftline.rejected_reason" not in tags
    gates = json.loads(tags["driftline.gates"])
    assert gates["passed"] and [g["name"] for g in gates["gates"]] == ["not_worse", "beats_constant", "forgetting"]
    assert tags["driftline.warm_start"] == "champion"  # before the flip: no concept change, no cold challenger
    assert out.run_name and out.run_name.startswith("retrain-")
    assert int(tags["driftline.replay_rows"]) > 0


def test_worker_killed_mid_training_resumes_from_checkpoint(cfg, champion, stream) -> None:
    registry = ModelRegistry(cfg)
    champ = registry.alias_version(CHAMPION)
    out = run_retrain(cfg, _rcfg(), stream.iloc[2000:4000], older=stream.iloc[:2000], fail_at_epoch=1)
    marker = cfg.workdir_path / "ray_results" / str(out.run_name) / "_markers" / "injected_failure_done"
    assert marker.exists(), "the worker was never killed"
    # Epoch 0 ran once before the kill; the restarted worker resumed at epoch 1 from its checkpoint.
    assert [int(h["epoch"]) for h in out.history] == [0, 1, 2]
    # The worker died at the top of epoch 1, so epoch 1 ran in the restarted worker: it must have started from the
    # weights epoch 0 checkpointed (same fingerprint, bit for bit), not from the warm start epoch 0 began with.
    first, resumed = out.history[0], out.history[1]
    assert resumed["start_weight_norm"] == first["weight_norm"], (first, resumed)
    assert resumed["start_weight_norm"] != first["start_weight_norm"], "the restarted worker began again"
    assert out.status in (RetrainStatus.CANDIDATE, RetrainStatus.REJECTED)
    assert registry.alias_version(CHAMPION) == champ


def test_forgetting_gate_rejects_and_keeps_the_version_without_alias(cfg, champion, stream) -> None:
    registry = ModelRegistry(cfg)
    champ = registry.alias_version(CHAMPION)
    # After the flip, old and new labels contradict: fitting the new concept forgets the old one.
    out = run_retrain(cfg, _rcfg("local", epochs=6), stream.iloc[5000:7000], older=stream.iloc[:2000])
    assert out.status is RetrainStatus.REJECTED, out.reason
    tags = registry.version_tags(str(out.version))
    assert "older holdout" in tags["driftline.rejected_reason"]
    assert registry.alias_version(CANDIDATE) != out.version
    assert registry.alias_version(CHAMPION) == champ
    assert all(k in tags for k in LINEAGE)


def test_after_a_concept_change_a_cold_retrain_competes_and_the_better_one_is_registered(cfg, champion, stream) -> None:
    """The window is all after the flip: the champion fell far below its baseline, so (cold_challenger auto) a cold
    retrain on the same rows competes with the warm start; the gates say which won and the tag names it."""
    registry = ModelRegistry(cfg)
    out = run_retrain(cfg, _rcfg("local", epochs=4), stream.iloc[4500:6500], trigger="the concept flipped")
    gates = json.loads(registry.version_tags(str(out.version))["driftline.gates"])
    by_name = {g["name"]: g for g in gates["gates"]}
    assert list(by_name) == ["not_worse", "beats_constant", "forgetting", "warm_or_cold"], gates
    contest = by_name["warm_or_cold"]
    assert "fell" in contest["evidence"]["why"] and contest["passed"]
    winner = contest["evidence"]["winner"]
    assert registry.version_tags(str(out.version))["driftline.warm_start"] == (
        "cold" if winner == "cold" else "champion"
    )
    better = min if contest["evidence"]["metric"] == "rmse" else max
    assert out.metrics["recent_accuracy"] == better(contest["evidence"]["warm"], contest["evidence"]["cold"])
    assert "constant_recent_accuracy" in out.metrics and "beats" in by_name["beats_constant"]["reason"]


def test_too_few_labelled_rows_is_a_skip(cfg, champion, stream) -> None:
    window = stream.iloc[4000:4500].copy()
    window.loc[window.index[50:], "y"] = None  # 50 labelled rows
    out = run_retrain(cfg, _rcfg("local"), window)
    assert out.status is RetrainStatus.SKIPPED and "50 labelled rows" in out.reason and out.version is None


def test_unknown_label_class_is_a_data_error(cfg, champion, stream) -> None:
    registry = ModelRegistry(cfg)
    before = registry.alias_version(CHAMPION)
    window = stream.iloc[4000:4500].copy()
    window.loc[window.index[3], "y"] = 7
    with pytest.raises(DataError, match=r"\[7\]"):
        run_retrain(cfg, _rcfg("local"), window)
    assert registry.alias_version(CHAMPION) == before


def test_no_champion_is_a_skip(cfg, champion, stream) -> None:
    other = cfg.with_overrides(**{"mlflow.model_name": "retrain-no-champion"})
    out = run_retrain(other, _rcfg("local"), stream.iloc[4000:4500])
    assert out.status is RetrainStatus.SKIPPED and "no alias 'champion'" in out.reason


def test_champion_that_fails_to_load_is_a_clear_error(cfg, champion, stream) -> None:
    broken = cfg.with_overrides(**{"mlflow.model_name": "retrain-broken-champion"})
    good, _ = ModelRegistry(cfg).load_bundle(f"models:/{cfg.mlflow.model_name}@champion")
    registry = ModelRegistry(broken)
    before = set(cfg.artifact_root.rglob("bundle.pt"))
    version = registry.register(
        good, profile_json="{}", example=stream.head(20), metrics={}, params={}, tags={}, run_name="broken"
    )
    registry.set_alias(CHAMPION, version.version)
    for path in set(cfg.artifact_root.rglob("bundle.pt")) - before:
        Path(path).write_bytes(b"not a torch file")
    with pytest.raises(ModelNotFoundError, match="failed to load"):
        run_retrain(broken, _rcfg("local"), stream.iloc[4000:4500])
    assert registry.alias_version(CHAMPION) == version.version and registry.alias_version(CANDIDATE) is None


def test_unreachable_mlflow_is_a_registry_error(cfg, stream, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    down = cfg.with_overrides(**{"mlflow.tracking_uri": f"http://127.0.0.1:{port}"})
    with pytest.raises(RegistryError, match="not usable"):
        run_retrain(down, _rcfg("local"), stream.iloc[4000:4500])
