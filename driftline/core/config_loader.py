"""Load and validate a driftline YAML config in one place, with errors that name the file and the field.

>>> from driftline.core.config_loader import load_config
>>> load_config(None).serve.host
'127.0.0.1'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from driftline.core.config import WORKDIR_ENV, DriftlineConfig
from driftline.core.errors import ConfigError

__all__ = ["DEFAULT_CONFIG_FILE", "EMBEDDED_DEFAULTS", "load_config", "load_yaml_model"]

EMBEDDED_DEFAULTS = "<embedded defaults>"
DEFAULT_CONFIG_FILE = "driftline.yaml"  # in the working folder; what `driftline init` writes
M = TypeVar("M", bound=BaseModel)


def _allowed_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names valid at ``loc`` (the parent of a rejected key), for 'unknown key' messages."""
    current: Any = model
    for part in loc:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = field.annotation
    return sorted(getattr(current, "model_fields", {}))


def _to_config_error(source: str, model: type[BaseModel], err: ValidationError) -> ConfigError:
    first = err.errors()[0]
    loc = tuple(first["loc"])
    field = ".".join(str(p) for p in loc) or "<root>"
    if first["type"] == "extra_forbidden":
        valid = _allowed_fields(model, loc[:-1])
        return ConfigError(source, field, first.get("input"), f"no such key; valid keys here: {', '.join(valid)}")
    if first["type"] == "enum":
        allowed = first.get("ctx", {}).get("expected", "")
        return ConfigError(source, field, first.get("input"), f"one of {allowed}")
    return ConfigError(source, field, first.get("input"), first["msg"].removeprefix("Value error, "))


def load_yaml_model(path: str | Path, model: type[M], overrides: dict[str, Any] | None = None) -> M:
    """Parse ``path`` into ``model``; any problem becomes a :class:`ConfigError` naming file and field."""
    source = str(path)
    file = Path(path)
    if not file.is_file():
        raise ConfigError(source, "<file>", source, "an existing YAML file (check the --config path)")
    try:
        raw = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(source, "<file>", str(exc).splitlines()[0], "valid YAML") from None
    if not isinstance(raw, dict):
        raise ConfigError(source, "<root>", type(raw).__name__, "a mapping of section names to settings")
    raw = _apply(raw, overrides or {})
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise _to_config_error(source, model, exc) from None


def _apply(raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    for dotted, value in overrides.items():
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return raw


def load_config(
    path: str | Path | None = None, *, workdir: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> DriftlineConfig:
    """Load ``path`` (else ``./driftline.yaml`` when it exists, as ``driftline init`` writes it, else the embedded
    defaults), then apply env and flag overrides.

    Precedence for the work folder: ``workdir`` argument (the ``--workdir`` flag) > ``$DRIFTLINE_WORKDIR`` > file.
    """
    merged: dict[str, Any] = dict(overrides or {})
    env_workdir = os.environ.get(WORKDIR_ENV)
    if workdir is not None:
        merged["workdir"] = str(workdir)
    elif env_workdir:
        merged["workdir"] = env_workdir
    if path is None and Path(DEFAULT_CONFIG_FILE).is_file():
        path = DEFAULT_CONFIG_FILE
    if path is None:
        try:
            return DriftlineConfig.model_validate(_apply({}, merged))
        except ValidationError as exc:
            raise _to_config_error(EMBEDDED_DEFAULTS, DriftlineConfig, exc) from None
    return load_yaml_model(path, DriftlineConfig, merged)
