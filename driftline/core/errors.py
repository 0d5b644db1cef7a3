"""One root for every error driftline raises on purpose.

Each message says what was wrong, what was expected and how to fix it. Every class keeps its constructor
arguments in ``self.args`` so it pickles across Ray workers unchanged.

>>> import pickle
>>> err = ConfigError("configs/local.yaml", "train.num_workers", 0, "an integer >= 1")
>>> pickle.loads(pickle.dumps(err)).field
'train.num_workers'
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConfigError",
    "DataError",
    "DriftlineError",
    "ModelNotFoundError",
    "RegistryError",
    "RolloutError",
    "ServingError",
    "TrainingError",
]


class DriftlineError(Exception):
    """Root of driftline's errors: ``str(err)`` is the whole message, including the fix."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message, hint)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self.args)


class ConfigError(DriftlineError):
    """A config file or value is invalid: names the file, the field, the bad value and what is allowed."""

    def __init__(self, source: str, field: str, value: Any, allowed: str) -> None:
        self.source, self.field, self.value, self.allowed = source, field, value, allowed
        message = f"{source}: field '{field}' has invalid value {value!r}; expected {allowed}."
        DriftlineError.__init__(self, message, "Fix the value in the file (or the flag/env var that set it).")
        self.args = (source, field, value, allowed)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self.args)


class DataError(DriftlineError):
    """Input data is missing, malformed or unusable (missing column, wrong type, non-finite value, empty)."""


class ModelNotFoundError(DriftlineError):
    """A registered model, version or alias does not exist."""


class RegistryError(DriftlineError):
    """MLflow could not be reached or refused an operation."""


class TrainingError(DriftlineError):
    """A training run failed or produced an unusable model."""


class ServingError(DriftlineError):
    """The Serve application could not be started, reached or reconfigured."""


class RolloutError(DriftlineError):
    """A rollout operation is not allowed in the current phase, or its input is invalid."""
