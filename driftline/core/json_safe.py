"""JSON-safe documents: every number finite, or null with the place and the reason recorded.

Strict JSON has no NaN or infinity, and ``json.dumps(..., allow_nan=False)`` raises on them, which lost whole drift
reports for one diagnostic number. :func:`nulls_for_non_finite` replaces each non-finite float (Python or numpy)
with ``None`` and says where it was, so a writer can keep the document and say what it could not compute.

>>> doc, found = nulls_for_non_finite({"a": 1.0, "b": [float("inf"), 2], "c": {"d": float("nan")}})
>>> doc
{'a': 1.0, 'b': [None, 2], 'c': {'d': None}}
>>> [(f.path, f.value) for f in found]
[('b[0]', 'inf'), ('c.d', 'nan')]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["NonFinite", "listing_non_finite", "nulls_for_non_finite"]


@dataclass(frozen=True)
class NonFinite:
    """A number that was not finite: where it was (``a.b[0]``) and what it was (``inf``, ``-inf``, ``nan``)."""

    path: str
    value: str


def nulls_for_non_finite(doc: Any, path: str = "") -> tuple[Any, list[NonFinite]]:
    """``doc`` with every non-finite float replaced by ``None``, and the list of what was replaced."""
    found: list[NonFinite] = []
    return _walk(doc, path, found), found


def _walk(value: Any, path: str, found: list[NonFinite]) -> Any:
    if isinstance(value, dict):
        return {k: _walk(v, f"{path}.{k}" if path else str(k), found) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_walk(v, f"{path}[{i}]", found) for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):  # numpy's float64 is a float subclass
        found.append(NonFinite(path, repr(float(value))))
        return None
    return value


def listing_non_finite(doc: dict[str, Any], why: str) -> dict[str, Any]:
    """``doc`` with every non-finite number null and listed under ``non_finite`` (path, value, ``why``)."""
    safe, found = nulls_for_non_finite(doc)
    safe["non_finite"] = [{"path": f.path, "value": f.value, "reason": f"{f.value} {why}"} for f in found]
    return dict(safe)
