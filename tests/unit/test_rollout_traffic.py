"""TrafficConfig: round trip and validation errors that say what to fix."""

from __future__ import annotations

import json

import pytest

from driftline.core.errors import ConfigError
from driftline.rollout.traffic import TrafficConfig, TrafficMode


def test_round_trip_through_json() -> None:
    cfg = TrafficConfig("3", "4", TrafficMode.CANARY, 0.25, 0.0, "rollout:4", 9)
    again = TrafficConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and again.mode is TrafficMode.CANARY
    assert TrafficConfig.from_dict({"champion_version": "3"}).mode is TrafficMode.NONE


@pytest.mark.parametrize(
    ("kwargs", "field", "hint"),
    [
        (
            {"mode": "shadow", "candidate_version": "4", "candidate_weight": 0.2, "shadow_fraction": 1.0},
            "candidate_weight",
            "use mode 'canary'",
        ),
        ({"mode": "shadow", "candidate_version": "4"}, "shadow_fraction", "mirror nothing"),
        ({"mode": "none", "candidate_weight": 0.5}, "mode", "set both to 0"),
        ({"mode": "ab", "candidate_weight": 0.5}, "candidate_version", "a version string"),
        (
            {"mode": "canary", "candidate_version": "4", "candidate_weight": 0.1, "shadow_fraction": 0.5},
            "shadow_fraction",
            "only happens in mode 'shadow'",
        ),
        ({"candidate_weight": 1.5}, "candidate_weight", "[0, 1]"),
        ({"mode": "blue-green"}, "mode", "'canary'"),
        ({"salt": ""}, "salt", "reshuffles"),
        ({"revision": -1}, "revision", ">= 0"),
    ],
)
def test_invalid_configs_name_the_field_and_the_fix(kwargs: dict, field: str, hint: str) -> None:
    with pytest.raises(ConfigError) as info:
        TrafficConfig("3", **kwargs)
    assert info.value.field == field and hint in str(info.value)


def test_from_dict_rejects_unknown_keys_listing_valid_ones() -> None:
    with pytest.raises(ConfigError, match="valid keys: champion_version, candidate_version"):
        TrafficConfig.from_dict({"champion_version": "3", "weight": 0.1})
    with pytest.raises(ConfigError, match="required"):
        TrafficConfig.from_dict({"mode": "none"})
