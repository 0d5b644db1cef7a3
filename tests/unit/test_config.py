from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import yaml

from driftline.core.config import DriftlineConfig
from driftline.core.config_loader import load_config
from driftline.core.errors import (
    ConfigError,
    DataError,
    DriftlineError,
    ModelNotFoundError,
    RegistryError,
    RolloutError,
    ServingError,
    TrainingError,
)

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_local_yaml_equals_embedded_defaults() -> None:
    assert load_config(REPO / "configs" / "local.yaml") == load_config(None)


def test_embedded_defaults_point_mlflow_at_sqlite_in_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRIFTLINE_MLFLOW_TRACKING_URI", raising=False)
    cfg = load_config(None, workdir=tmp_path)
    assert cfg.tracking_uri == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert cfg.registry_uri == cfg.tracking_uri


def test_tracking_uri_env_is_used_when_the_config_leaves_it_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://elsewhere:5000")  # MLflow rewrites this one: ignored
    monkeypatch.setenv("DRIFTLINE_MLFLOW_TRACKING_URI", "http://mlflow:5000")
    assert load_config(None, workdir=tmp_path).tracking_uri == "http://mlflow:5000"
    explicit = _write(tmp_path, {"mlflow": {"tracking_uri": "sqlite:///x.db"}})
    assert load_config(explicit).tracking_uri == "sqlite:///x.db"


def test_workdir_precedence_flag_over_env_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, {"workdir": str(tmp_path / "file")})
    assert load_config(path).workdir_path == tmp_path / "file"
    monkeypatch.setenv("DRIFTLINE_WORKDIR", str(tmp_path / "env"))
    assert load_config(path).workdir_path == tmp_path / "env"
    assert load_config(path, workdir=tmp_path / "flag").workdir_path == tmp_path / "flag"


def test_unknown_key_names_file_field_and_valid_keys(tmp_path: Path) -> None:
    path = _write(tmp_path, {"train": {"num_workerz": 2}})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message and "train.num_workerz" in message and "num_workers" in message


def test_bad_value_names_field_value_and_rule(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, {"train": {"num_workers": 0}}))
    assert info.value.field == "train.num_workers" and info.value.value == 0
    assert "greater than or equal to 1" in str(info.value)


def test_bad_enum_lists_allowed_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, {"data": {"source": "kaggle"}}))
    assert "'synthetic'" in str(info.value) and "'elec2'" in str(info.value)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="existing YAML file"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed")
    with pytest.raises(ConfigError, match="valid YAML"):
        load_config(bad)


def test_with_overrides_validates() -> None:
    cfg = DriftlineConfig().with_overrides(**{"serve.port": 0})
    assert cfg.serve.port == 0
    with pytest.raises(ValueError):
        DriftlineConfig().with_overrides(**{"serve.port": -1})


@pytest.mark.parametrize(
    "error",
    [
        DriftlineError("m", "h"),
        ConfigError("f.yaml", "a.b", 3, "an int"),
        DataError("bad"),
        ModelNotFoundError("none", "train one"),
        RegistryError("down"),
        TrainingError("boom"),
        ServingError("x"),
        RolloutError("y"),
    ],
)
def test_errors_survive_pickling(error: DriftlineError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and str(copy) == str(error)


def test_autoscaling_replaces_num_replicas_and_checks_its_bounds() -> None:
    cfg = DriftlineConfig()
    assert cfg.serve.model.replicas() == {"num_replicas": 1}
    scaled = cfg.with_overrides(**{"serve.model.autoscaling": {"min_replicas": 1, "max_replicas": 3}})
    settings = scaled.serve.model.replicas()["autoscaling_config"]
    assert settings["min_replicas"] == 1 and settings["max_replicas"] == 3 and "num_replicas" not in settings
    with pytest.raises(ValueError, match="exceeds max_replicas"):
        cfg.with_overrides(**{"serve.model.autoscaling": {"min_replicas": 5, "max_replicas": 3}})
    with pytest.raises(ValueError, match="must exceed metrics_interval_s"):
        cfg.with_overrides(**{"serve.router.autoscaling": {"look_back_period_s": 2.0}})


def test_a_batch_that_could_never_fill_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        yaml.safe_dump({"serve": {"model": {"max_ongoing_requests": 4}, "batching": {"max_batch_size": 8}}})
    )
    with pytest.raises(ConfigError, match="max_batch_size"):
        load_config(path)
    assert load_config(REPO / "configs" / "cluster.yaml").serve.model.autoscaling is not None
