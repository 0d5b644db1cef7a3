"""The shape of a tabular dataset: which columns are features (numeric or categorical) and which is the label.

>>> schema = DatasetSchema(
...     features=(FeatureSpec("x0", FeatureKind.NUMERIC), FeatureSpec("region", FeatureKind.CATEGORICAL, ("a", "b"))),
...     label="y", classes=(0, 1))
>>> schema.feature_names
('x0', 'region')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = ["ClassValue", "DatasetSchema", "FeatureKind", "FeatureSpec", "as_scalar", "match_class"]

# A class label as the user's table holds it: "yes"/"no", True/False, 0/1/2 (sorted, they fix the class order).
ClassValue = str | int | float | bool


def as_scalar(value: Any) -> Any:
    """A plain Python value for a numpy scalar (what pandas and Arrow hand out), else ``value`` itself."""
    return value.item() if type(value).__module__ == "numpy" and hasattr(value, "item") else value


def _kind_of(value: Any) -> str:
    value = as_scalar(value)
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "str" if isinstance(value, str) else type(value).__name__


def match_class(value: Any, classes: tuple[ClassValue, ...]) -> ClassValue | None:
    """The class equal to ``value`` (same kind: ``True`` is not ``1``, ``1.0`` is ``1``), or None.

    >>> match_class(1.0, (0, 1)), match_class(True, (0, 1)), match_class("yes", ("no", "yes"))
    (1, None, 'yes')
    """
    kind = _kind_of(value)
    for cls in classes:
        if _kind_of(cls) == kind and cls == value:
            return as_scalar(cls)  # type: ignore[no-any-return]
    return None


class FeatureKind(str, Enum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


@dataclass(frozen=True)
class FeatureSpec:
    """One input column; ``categories`` lists the known values of a categorical feature."""

    name: str
    kind: FeatureKind
    categories: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind.value, "categories": list(self.categories)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        return cls(data["name"], FeatureKind(data["kind"]), tuple(str(c) for c in data.get("categories", ())))


@dataclass(frozen=True)
class DatasetSchema:
    """Features, label column and the label's classes (class index i is ``classes[i]``, any :data:`ClassValue`);
    no classes means a regression target."""

    features: tuple[FeatureSpec, ...]
    label: str
    classes: tuple[ClassValue, ...]
    timestamp: str | None = "timestamp"
    id_column: str | None = (
        None  # the business key (dataset.id): sent with each row, never a feature; labels join on it
    )

    @property
    def is_regression(self) -> bool:
        """A regression target has no classes: the label is a real number."""
        return not self.classes

    @property
    def n_outputs(self) -> int:
        """Outputs a network needs: one logit per class, or one value for a regression target."""
        return len(self.classes) or 1

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def numeric(self) -> tuple[FeatureSpec, ...]:
        return tuple(f for f in self.features if f.kind is FeatureKind.NUMERIC)

    @property
    def categorical(self) -> tuple[FeatureSpec, ...]:
        return tuple(f for f in self.features if f.kind is FeatureKind.CATEGORICAL)

    def feature(self, name: str) -> FeatureSpec:
        for spec in self.features:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": [f.to_dict() for f in self.features],
            "label": self.label,
            "classes": list(self.classes),
            "timestamp": self.timestamp,
            "id_column": self.id_column,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetSchema:
        return cls(
            features=tuple(FeatureSpec.from_dict(f) for f in data["features"]),
            label=data["label"],
            classes=tuple(data["classes"]),
            timestamp=data.get("timestamp"),
            id_column=data.get("id_column"),
        )
