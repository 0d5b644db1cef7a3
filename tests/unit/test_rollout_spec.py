"""RolloutSpec validation: declared mode, sections per mode, canary ramp, sample sizes; errors via the loader."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from driftline.core.config_loader import load_yaml_model
from driftline.core.errors import ConfigError
from driftline.rollout.spec import ABMetric, ABTest, RolloutSpec


def load(tmp_path: Path, data: dict) -> RolloutSpec:
    path = tmp_path / "rollout.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_yaml_model(path, RolloutSpec)


def test_defaults_for_the_used_sections_only(tmp_path: Path) -> None:
    spec = load(tmp_path, {"mode": "ab", "candidate_version": "4"})
    assert spec.ab is not None and spec.canary is None and spec.shadow is None
    assert (spec.ab.metric, spec.ab.test, spec.ab.alpha) == (ABMetric.ACCURACY, ABTest.MSPRT, 0.05)
    shadow_then = load(tmp_path, {"mode": "shadow", "candidate_version": "4", "shadow": {"then_canary": True}})
    assert shadow_then.canary is not None and shadow_then.canary.steps[-1] == 1.0
    assert RolloutSpec.model_validate_json(shadow_then.model_dump_json()) == shadow_then


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"candidate_version": "4"}, "mode", "Field required"),
        ({"mode": "bluegreen", "candidate_version": "4"}, "mode", "'shadow', 'ab' or 'canary'"),
        ({"mode": "canary", "candidate_version": "4", "canary": {"step": [0.5, 1]}}, "canary.step", "valid keys"),
        (
            {"mode": "canary", "candidate_version": "4", "canary": {"steps": [0.5, 0.25, 1]}},
            "canary.steps",
            "strictly increasing",
        ),
        ({"mode": "canary", "candidate_version": "4", "canary": {"steps": [0.1, 0.5]}}, "canary.steps", "end at 1.0"),
        ({"mode": "canary", "candidate_version": "4", "canary": {"steps": [1.0]}}, "canary.steps", "at least two"),
        ({"mode": "canary", "candidate_version": "4", "ab": {}}, "<root>", "section 'ab' is set but mode is 'canary'"),
        ({"mode": "shadow", "candidate_version": "4", "canary": {}}, "<root>", "then_canary"),
        (
            {"mode": "ab", "candidate_version": "4", "ab": {"min_samples_per_arm": 500, "max_samples_per_arm": 100}},
            "ab",
            "max_samples_per_arm (100) must be >= min_samples_per_arm (500)",
        ),
        ({"mode": "ab", "candidate_version": "4", "ab": {"candidate_share": 1.0}}, "ab.candidate_share", "less than 1"),
    ],
)
def test_invalid_specs_name_field_and_fix(tmp_path: Path, data: dict, field: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, data)
    assert info.value.field == field and message in str(info.value)


def test_mode_is_never_guessed() -> None:
    with pytest.raises(ValidationError):
        RolloutSpec(candidate_version="4", canary={"steps": [0.5, 1.0]})  # type: ignore[call-arg]


def test_a_section_of_the_wrong_type_is_a_validation_error_not_a_crash() -> None:
    import pydantic

    with pytest.raises(pydantic.ValidationError, match="shadow"):
        RolloutSpec.model_validate({"mode": "shadow", "candidate_version": "2", "shadow": "x"})


@pytest.mark.parametrize("mode", [{}, [], 3, None])
def test_a_mode_of_the_wrong_type_is_a_validation_error_not_a_crash(mode: object) -> None:
    import pydantic

    with pytest.raises(pydantic.ValidationError, match="mode"):  # {} crashed with TypeError (found by the fuzzer)
        RolloutSpec.model_validate({"mode": mode, "candidate_version": "2"})
