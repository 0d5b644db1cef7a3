"""Lazy re-exports for package ``__init__`` files: the public names load their module on first use.

A package declares its surface as ``{name: module}``; importing the package then costs nothing, so
``import driftline.core.errors`` does not pull in numpy, and pure code never imports Ray or MLflow by accident.

>>> getattr_ = lazy_getattr("demo", {"sqrt": "math"})
>>> getattr_("sqrt")(9.0)
3.0
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` that imports ``exports[name]`` and returns its attribute ``name``."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__
