"""The traffic config every router applies: which versions serve, in which mode, with which weights.

Produced by the rollout (``traffic_for``), published to the routers, persisted as JSON. ``revision`` only grows,
so a router ignores a config older than the one it already applies.

>>> cfg = TrafficConfig("3", "4", TrafficMode.CANARY, candidate_weight=0.25, salt="rollout:4", revision=7)
>>> TrafficConfig.from_dict(cfg.to_dict()) == cfg
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any

from driftline.core.errors import ConfigError

__all__ = ["TrafficConfig", "TrafficMode"]

_SOURCE = "traffic config"


class TrafficMode(str, Enum):
    """How the candidate takes part: not at all, mirrored (shadow), or serving a share (ab, canary)."""

    NONE = "none"
    SHADOW = "shadow"
    AB = "ab"
    CANARY = "canary"


@dataclass(frozen=True)
class TrafficConfig:
    """Champion/candidate versions, mode, candidate share of user traffic, shadowed share, salt, revision.

    Invariants (checked on construction): ``none`` has no candidate traffic; ``shadow`` mirrors a share but
    serves the candidate to nobody; ``ab``/``canary`` serve a share and shadow nothing; a candidate version
    is required whenever the mode is not ``none``.
    """

    champion_version: str
    candidate_version: str | None = None
    mode: TrafficMode = TrafficMode.NONE
    candidate_weight: float = 0.0
    shadow_fraction: float = 0.0
    salt: str = "driftline"
    revision: int = 0

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "mode", TrafficMode(self.mode))
        except ValueError:
            raise ConfigError(_SOURCE, "mode", self.mode, f"one of {[m.value for m in TrafficMode]}") from None
        if not isinstance(self.champion_version, str) or not self.champion_version:
            raise ConfigError(_SOURCE, "champion_version", self.champion_version, "a non-empty version string")
        for name in ("candidate_weight", "shadow_fraction"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ConfigError(_SOURCE, name, value, "a number in [0, 1]")
            if math.isnan(value):
                raise ConfigError(_SOURCE, name, value, "a number in [0, 1]")
        if not isinstance(self.salt, str) or not self.salt:
            raise ConfigError(_SOURCE, "salt", self.salt, "a non-empty string (changing it reshuffles users)")
        if isinstance(self.revision, bool) or not isinstance(self.revision, int) or self.revision < 0:
            raise ConfigError(_SOURCE, "revision", self.revision, "an integer >= 0")
        self._check_mode()

    def _check_mode(self) -> None:
        mode = self.mode
        if mode is TrafficMode.NONE:
            if self.candidate_weight or self.shadow_fraction:
                raise ConfigError(
                    _SOURCE,
                    "mode",
                    mode.value,
                    f"'shadow', 'ab' or 'canary' when candidate_weight={self.candidate_weight} or "
                    f"shadow_fraction={self.shadow_fraction} is non-zero (or set both to 0 for mode 'none')",
                )
            return
        if not self.candidate_version:
            raise ConfigError(
                _SOURCE,
                "candidate_version",
                self.candidate_version,
                f"a version string when mode is '{mode.value}' (or use mode 'none')",
            )
        if mode is TrafficMode.SHADOW:
            if self.candidate_weight:
                raise ConfigError(
                    _SOURCE,
                    "candidate_weight",
                    self.candidate_weight,
                    "0 in shadow mode (the candidate serves no user); use mode 'canary' to serve it",
                )
            if not self.shadow_fraction:
                raise ConfigError(
                    _SOURCE,
                    "shadow_fraction",
                    self.shadow_fraction,
                    "a share in (0, 1] in shadow mode (0 would mirror nothing)",
                )
        elif self.shadow_fraction:
            raise ConfigError(
                _SOURCE,
                "shadow_fraction",
                self.shadow_fraction,
                f"0 in mode '{mode.value}' (mirroring only happens in mode 'shadow')",
            )

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (self.mode.value if f.name == "mode" else getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrafficConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error that lists the valid ones."""
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(valid))
        if unknown:
            raise ConfigError(_SOURCE, unknown[0], data[unknown[0]], f"no such key; valid keys: {', '.join(valid)}")
        if "champion_version" not in data:
            raise ConfigError(_SOURCE, "champion_version", None, "a non-empty version string (it is required)")
        return cls(**data)
