"""Warm start: the starting model of a retrain is the champion (weights *and* preprocessor), not a fresh network.

Keeping the champion's preprocessor keeps its feature scaling, so the loaded weights mean what they meant;
shrink-and-perturb (Ash & Adams 2020) is applied by the training loop when ``LoopConfig.shrink`` is set, and only
on a fresh start, never when resuming from a checkpoint. A cold start refits the preprocessor on the new data.

>>> from driftline.datasets.synthetic import SYNTHETIC_SCHEMA, generate_stream
>>> from driftline.model.preprocess import TabularPreprocessor
>>> frame, _ = generate_stream("stationary", 200, seed=0)
>>> champ = ModelBundle.create(TabularPreprocessor.fit(frame, SYNTHETIC_SCHEMA), (8,), seed=1)
>>> start_bundle(champ, frame, warm=True) is champ, start_bundle(champ, frame, warm=False) is champ
(True, False)
"""

from __future__ import annotations

from typing import Protocol

import pandas as pd

from driftline.core.errors import DriftlineError, ModelNotFoundError
from driftline.model.bundle import ModelBundle
from driftline.model.preprocess import TabularPreprocessor

__all__ = ["BundleSource", "load_champion", "start_bundle"]


class BundleSource(Protocol):
    """What the warm start needs from the registry (``ModelRegistry`` fits; tests pass a fake)."""

    name: str

    def alias_version(self, alias: str) -> str | None: ...

    def load_bundle(self, model_uri: str) -> tuple[ModelBundle, str]: ...


def load_champion(registry: BundleSource, alias: str = "champion") -> tuple[ModelBundle, str] | None:
    """The bundle and version behind ``models:/NAME@alias``; None when the alias is not set.

    Anything that goes wrong *loading* an existing version (missing artifact, corrupt file) becomes a
    ModelNotFoundError naming the version, so the caller stops before training and the champion stays untouched.
    """
    version = registry.alias_version(alias)
    if version is None:
        return None
    uri = f"models:/{registry.name}@{alias}"
    try:
        bundle, loaded = registry.load_bundle(uri)
    except DriftlineError:
        raise
    except Exception as exc:  # torch/pickle/IO errors from a damaged artifact: say which version and what to do
        raise ModelNotFoundError(
            f"The {alias} ({uri}, version {version}) failed to load: {type(exc).__name__}: {exc}",
            "Re-register a working model (`driftline train`) or point the alias at a good version.",
        ) from exc
    if not isinstance(bundle, ModelBundle):
        raise ModelNotFoundError(f"{uri} (version {version}) is not a driftline model bundle.", "Re-register it.")
    return bundle, loaded


def start_bundle(
    champion: ModelBundle,
    train: pd.DataFrame,
    *,
    warm: bool,
    hidden_sizes: tuple[int, ...] | None = None,
    seed: int = 0,
) -> ModelBundle:
    """The bundle training starts from: the champion itself (warm) or a fresh net on a refitted preprocessor."""
    if warm:
        return champion
    pre = TabularPreprocessor.fit(train, champion.preprocessor.schema)
    if hidden_sizes is not None and champion.family == "mlp":
        return ModelBundle.create(pre, hidden_sizes, seed)
    return champion.fresh(pre, seed)
