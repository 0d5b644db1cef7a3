"""The glue: config, errors, MLflow registry, rollout state machine, traffic, retrain policy, control loop, CLI."""

from __future__ import annotations

from driftline.platform.config import DriftlineConfig
from driftline.platform.config_loader import load_config, load_yaml_model
from driftline.platform.errors import (
    ConfigError,
    DataError,
    DriftlineError,
    ModelNotFoundError,
    RegistryError,
    RolloutError,
    ServingError,
    TrainingError,
)
from driftline.platform.policy import Decision, DecisionKind, PolicyState, decide
from driftline.platform.policy_config import PolicyConfig, Strategy
from driftline.platform.rollout import Observation, Phase, RolloutState, VariantCounters
from driftline.platform.rollout_machine import abort, promote, start, step, traffic_for
from driftline.platform.rollout_spec import RolloutSpec
from driftline.platform.rollout_store import RolloutStore
from driftline.platform.timeline import Timeline
from driftline.platform.traffic import TrafficConfig, TrafficMode

__all__ = [
    "ConfigError",
    "DataError",
    "Decision",
    "DecisionKind",
    "DriftlineConfig",
    "DriftlineError",
    "ModelNotFoundError",
    "Observation",
    "Phase",
    "PolicyConfig",
    "PolicyState",
    "RegistryError",
    "RolloutError",
    "RolloutSpec",
    "RolloutState",
    "RolloutStore",
    "ServingError",
    "Strategy",
    "Timeline",
    "TrafficConfig",
    "TrafficMode",
    "TrainingError",
    "VariantCounters",
    "abort",
    "decide",
    "load_config",
    "load_yaml_model",
    "promote",
    "start",
    "step",
    "traffic_for",
]
