"""The foundation every other layer stands on: errors, config, paths, files, statistics, the timeline.

Imports nothing else from driftline, and nothing heavy at import time (names load lazily), so
``import driftline.core.errors`` costs a few milliseconds.
"""

from __future__ import annotations

from driftline.core.lazy import lazy_getattr

_EXPORTS = {
    "ConfigError": "driftline.core.errors",
    "DataError": "driftline.core.errors",
    "DriftlineError": "driftline.core.errors",
    "ModelNotFoundError": "driftline.core.errors",
    "RegistryError": "driftline.core.errors",
    "RolloutError": "driftline.core.errors",
    "ServingError": "driftline.core.errors",
    "TrainingError": "driftline.core.errors",
    "DriftlineConfig": "driftline.core.config",
    "load_config": "driftline.core.config_loader",
    "load_yaml_model": "driftline.core.config_loader",
    "StrictModel": "driftline.core.strict",
    "Timeline": "driftline.core.timeline",
    "atomic_write": "driftline.core.fs",
    "LocalFileSystem": "driftline.core.fs",
    "FileSystem": "driftline.core.fs",
    "state_dir": "driftline.core.paths",
    "logs_dir": "driftline.core.paths",
    "free_port": "driftline.core.net",
    "ensure_ray": "driftline.core.ray_runtime",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
