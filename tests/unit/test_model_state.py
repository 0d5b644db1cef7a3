"""Every model's state is its own in one database; the state of an app that served one model before is adopted."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftline.core.config_loader import load_config
from driftline.core.errors import ConfigError
from driftline.core.state_db import StateDB, StateStoreError, model_state, sqlite_url
from driftline.core.timeline import Timeline
from driftline.rollout.machine import start
from driftline.rollout.spec import RolloutSpec
from driftline.rollout.store import RolloutStore


def test_two_models_in_one_database_keep_their_own_rollouts_and_timelines(tmp_path: Path) -> None:
    db = StateDB(sqlite_url(tmp_path / "state.db"))
    churn, fraud = RolloutStore(db.for_model("churn")), RolloutStore(db.for_model("fraud"))
    churn.save(start(RolloutSpec(mode="canary", candidate_version="4"), now=0.0))
    fraud.save(start(RolloutSpec(mode="shadow", candidate_version="9"), now=0.0))
    assert churn.load().spec.candidate_version == "4" and fraud.load().spec.candidate_version == "9"
    assert len(churn.transitions()) == len(fraud.transitions()) == 1
    Timeline(db.for_model("churn")).append("promoted", "v4")
    assert Timeline(db.for_model("fraud")).read() == [] and db.get("rollout") is None


def test_the_unscoped_state_of_a_one_model_app_is_adopted_once(tmp_path: Path) -> None:
    db = StateDB(sqlite_url(tmp_path / "state.db"))
    RolloutStore(db).save(start(RolloutSpec(mode="canary", candidate_version="4"), now=0.0))  # written before
    Timeline(db).append("promoted", "v3")
    churn = db.for_model("churn")
    assert churn.adopt_unscoped() and not churn.adopt_unscoped()  # once
    assert RolloutStore(churn).load().spec.candidate_version == "4" and len(RolloutStore(churn).transitions()) == 1
    assert [e["kind"] for e in Timeline(churn).read()] == ["promoted"] and db.get("rollout") is None
    assert not db.for_model("fraud").adopt_unscoped()  # nothing left to adopt


def test_a_model_name_that_cannot_key_state_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(StateStoreError, match="1-48 letters"):
        StateDB(sqlite_url(tmp_path / "state.db")).for_model("churn model/v2")
    with pytest.raises(ConfigError, match="model_name"):
        load_config(None, workdir=tmp_path, overrides={"mlflow.model_name": "churn model"})


def test_served_models_default_to_the_one_registered_model_and_names_are_distinct(tmp_path: Path) -> None:
    cfg = load_config(None, workdir=tmp_path)
    (only,) = cfg.served_models()
    assert only.name == cfg.mlflow.model_name and only.placement.value == "inline"
    fleet = cfg.with_overrides(
        **{"serve.models": [{"name": "a"}, {"name": "b", "registered_model": "b-reg", "placement": "remote"}]}
    )
    assert [(m.name, m.registered, m.placement.value) for m in fleet.served_models()] == [
        ("a", "a", "inline"),
        ("b", "b-reg", "remote"),
    ]
    assert fleet.for_model(fleet.served_models()[1]).mlflow.model_name == "b-reg"
    assert model_state(fleet.for_model(fleet.served_models()[1])).prefix == "m/b-reg/"
    with pytest.raises(ValueError, match="appears more than once"):
        cfg.with_overrides(**{"serve.models": [{"name": "a"}, {"name": "a"}]})
