"""A user's own torch network, as a driftline user would write it (the ``torch`` family's factory in the tests)."""

from __future__ import annotations

from torch import nn


def build(n_inputs: int, n_outputs: int, width: int = 24, dropout: float = 0.0) -> nn.Module:
    """Two hidden layers with a residual-free GELU stack: not driftline's MLP, so the factory really is used."""
    return nn.Sequential(
        nn.Linear(n_inputs, width),
        nn.GELU(),
        nn.Dropout(dropout),
        nn.Linear(width, width),
        nn.GELU(),
        nn.Linear(width, n_outputs),
    )


def wrong_shape(n_inputs: int, n_outputs: int) -> nn.Module:
    return nn.Linear(n_inputs, n_outputs + 1)


def not_a_module(n_inputs: int, n_outputs: int) -> object:
    return "a string"


def raises(n_inputs: int, n_outputs: int) -> nn.Module:
    raise ValueError("width must be positive")
