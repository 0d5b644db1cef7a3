"""Model families: what a bundle's network is and how it predicts, one file each.

- ``mlp``: driftline's torch MLP (``model/bundle.py``'s :class:`TabularMLP`), the default.
- ``torch``: the user's own ``nn.Module``, built by a factory named by import path (``torch_factory.py``).
- ``xgboost``: a gradient-boosted booster; warm start is continued boosting (``xgboost_booster.py``).

Every family lives in the same :class:`~driftline.model.bundle.ModelBundle` (preprocessor, classes, weights or
booster), so registry, serving and monitoring see one contract: ``predict_proba(frame)``, ``to_bytes``/``from_bytes``.
"""

from __future__ import annotations

__all__ = ["FAMILIES", "TORCH_FAMILIES"]

FAMILIES = ("mlp", "torch", "xgboost")
TORCH_FAMILIES = ("mlp", "torch")  # trained by driftline's torch loop (train_jobs/loop.py)
