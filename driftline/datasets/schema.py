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

__all__ = ["DatasetSchema", "FeatureKind", "FeatureSpec"]


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
    """Features, label column and the label's classes (class index i is ``classes[i]``)."""

    features: tuple[FeatureSpec, ...]
    label: str
    classes: tuple[int, ...]
    timestamp: str | None = "timestamp"

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
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetSchema:
        return cls(
            features=tuple(FeatureSpec.from_dict(f) for f in data["features"]),
            label=data["label"],
            classes=tuple(int(c) for c in data["classes"]),
            timestamp=data.get("timestamp"),
        )
