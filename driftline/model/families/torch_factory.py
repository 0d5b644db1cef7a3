"""The ``torch`` family: the user's own ``nn.Module``, built by a factory named by import path.

``model.factory: mypkg.nets:build`` is called as ``build(n_inputs, n_outputs, **model.params)`` and must return an
``nn.Module`` mapping a float32 batch (rows x n_inputs) to logits (rows x n_outputs). driftline's torch loop trains
it, warm-starts it from the champion's weights and checkpoints it like the built-in MLP. The factory's module must
be importable wherever the model is loaded (install it, or ship it in the Ray job's working dir).

>>> net = build_user_network("torch.nn:Linear", 3, 2, {})
>>> tuple(net(__import__("torch").zeros(4, 3)).shape)
(4, 2)
"""

from __future__ import annotations

import importlib
from typing import Any

import torch
from torch import nn

from driftline.core.errors import ConfigError

__all__ = ["build_user_network", "resolve_factory"]


def resolve_factory(path: str) -> Any:
    """The callable behind ``module.sub:function``; a ConfigError that names the fix when it is not there."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ConfigError("model.factory", "model.factory", path, "an import path such as mypkg.nets:build")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            "model.factory", "model.factory", path, f"an importable callable (import failed: {exc})"
        ) from None


def build_user_network(path: str, n_inputs: int, n_outputs: int, params: dict[str, Any]) -> nn.Module:
    """Call the factory and check what it built: an ``nn.Module`` answering (rows x n_outputs)."""
    factory = resolve_factory(path)
    try:
        net = factory(n_inputs, n_outputs, **params)
    except Exception as exc:
        raise ConfigError(
            "model.factory", "model.factory", path, f"a factory that builds the network (it raised {exc!r})"
        ) from None
    if not isinstance(net, nn.Module):
        raise ConfigError("model.factory", "model.factory", path, f"a factory returning nn.Module, not {type(net)}")
    with torch.no_grad():
        shape = tuple(net.eval()(torch.zeros(2, n_inputs)).shape)
    if shape != (2, n_outputs):
        raise ConfigError(
            "model.factory", "model.factory", path, f"a network answering (rows, {n_outputs}); it answered {shape}"
        )
    return net
