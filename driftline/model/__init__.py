"""The artifact that is trained, registered and served: the model bundle, its preprocessing, the MLflow registry.

Serving and monitoring import this package, never training code.
"""

from __future__ import annotations

from driftline.core.lazy import lazy_getattr

_EXPORTS = {
    "ModelBundle": "driftline.model.bundle",
    "TabularMLP": "driftline.model.bundle",
    "TabularPreprocessor": "driftline.model.preprocess",
    "CANDIDATE": "driftline.model.registry",
    "CHAMPION": "driftline.model.registry",
    "ModelRegistry": "driftline.model.registry",
    "RegisteredVersion": "driftline.model.registry",
    "alias_uri": "driftline.model.registry",
    "load_profile_json": "driftline.model.registry",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
