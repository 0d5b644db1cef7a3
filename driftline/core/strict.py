"""The one strict base model every config and spec section derives from.

Unknown keys are errors (a typo never passes silently), instances are frozen (a config read is a config kept),
fields fill by name or by alias.

>>> class Section(StrictModel):
...     size: int = 1
>>> Section(size=2).size
2
>>> try:
...     Section(sise=2)
... except ValueError as exc:
...     print(exc.errors()[0]["type"])
extra_forbidden
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["StrictModel"]


class StrictModel(BaseModel):
    """``extra="forbid"``, frozen, populated by field name or alias."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
