"""The drift monitor's settings (``configs/drift.yaml``): tests, thresholds, per-feature overrides, verdict rules.

Load with ``driftline.core.config_loader.load_yaml_model(path, DriftConfig)``; with no file the defaults
below apply. Thresholds resolve as: ``features.<name>.thresholds.<test>`` > ``thresholds.<test>`` > the test's
documented default (``driftline.monitors.stattests``).

>>> cfg = DriftConfig.model_validate({"features": {"x3": {"thresholds": {"ks": 0.2}}}})
>>> cfg.threshold_for("x3", "ks"), cfg.threshold_for("x0", "ks")
(0.2, 0.1)
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import Field, field_validator, model_validator

from driftline.core.strict import StrictModel
from driftline.datasets.schema import ClassValue, DatasetSchema, FeatureKind, FeatureSpec
from driftline.monitors.stattests.registry import STAT_TESTS

__all__ = [
    "Correction",
    "DatasetVerdictConfig",
    "DriftConfig",
    "FeatureOverride",
    "LabelShiftConfig",
    "PerformanceConfig",
    "SchemaConfig",
]


def _check_tests(names: list[str] | dict[str, float]) -> None:
    unknown = [n for n in names if n not in STAT_TESTS]
    if unknown:
        raise ValueError(f"unknown test(s) {unknown}; valid names: {', '.join(sorted(STAT_TESTS))}")


class Correction(str, Enum):
    BENJAMINI_HOCHBERG = "benjamini_hochberg"
    NONE = "none"


class FeatureOverride(StrictModel):
    thresholds: dict[str, float] = Field(default_factory=dict, description="Per-test thresholds for this feature.")
    primary_test: str | None = Field(default=None, description="Test whose verdict is this feature's verdict.")
    ignore: bool = Field(default=False, description="Leave this feature out of the report and the verdicts.")

    @field_validator("thresholds")
    @classmethod
    def _known(cls, v: dict[str, float]) -> dict[str, float]:
        _check_tests(v)
        if any(t <= 0 for t in v.values()):
            raise ValueError("thresholds must be > 0")
        return v


class DatasetVerdictConfig(StrictModel):
    correction: Correction = Field(
        default=Correction.BENJAMINI_HOCHBERG,
        description="Multiple-testing control over the primary tests' p-values across features.",
    )
    fdr: float = Field(default=0.05, gt=0, lt=1, description="False discovery rate for Benjamini-Hochberg.")
    drift_share: float = Field(
        default=0.25, gt=0, le=1, description="Dataset drift when at least this share of testable features drifted."
    )


class LabelShiftConfig(StrictModel):
    tv_threshold: float = Field(
        default=0.1, gt=0, le=1, description="Label shift when the prior moved by this total variation distance."
    )
    min_labelled: int = Field(default=100, ge=1, description="Labelled rows needed to trust the observed prior.")
    min_predictions: int = Field(default=100, ge=1, description="Predictions needed for the BBSE estimate.")


class PerformanceConfig(StrictModel):
    alpha: float = Field(default=0.05, gt=0, lt=1, description="One-sided test level for 'accuracy below baseline'.")
    min_drop: float = Field(default=0.02, ge=0, lt=1, description="Smallest accuracy drop called decay.")
    min_labelled: int = Field(default=100, ge=1, description="Labelled rows needed to judge performance.")
    confidence: float = Field(default=0.95, gt=0, lt=1, description="Level of the Wilson confidence interval.")
    regression_metric: Literal["rmse", "mae"] = Field(
        default="rmse", description="Regression: the section's headline metric (both are reported)."
    )
    min_relative_increase: float = Field(
        default=0.1, ge=0, description="Regression: smallest rise of RMSE/MAE over the baseline called decay (0.1=10%)."
    )


class JointDriftConfig(StrictModel):
    enabled: bool = Field(
        default=True, description="Run the domain-classifier test on the reference and window samples."
    )
    min_rows: int = Field(default=200, ge=20, description="Rows each sample needs before the test runs.")
    alpha: float = Field(default=0.01, gt=0, lt=1, description="Level of the one-sided test of AUC > 0.5.")
    min_auc: float = Field(
        default=0.55, ge=0.5, lt=1, description="Smallest held-out AUC called joint drift (an effect size, as KS D)."
    )


class SchemaConfig(StrictModel):
    numeric: list[str] = Field(default_factory=list, description="Numeric feature columns.")
    categorical: list[str] = Field(default_factory=list, description="Categorical feature columns.")
    label: str = Field(default="label", description="Label column of the reference.")
    classes: list[str | int | float | bool] = Field(
        default_factory=list, description="Class values; empty means from the reference."
    )

    def to_schema(self, classes: tuple[ClassValue, ...] = ()) -> DatasetSchema:
        features = [FeatureSpec(n, FeatureKind.NUMERIC) for n in self.numeric]
        features += [FeatureSpec(n, FeatureKind.CATEGORICAL) for n in self.categorical]
        return DatasetSchema(tuple(features), self.label, tuple(self.classes) or classes, timestamp=None)


class DriftConfig(StrictModel):
    """All drift-monitor settings; every field has a documented default."""

    n_bins: int = Field(default=1000, ge=10, description="Fine quantile bins when a profile is built on the fly.")
    alpha: float = Field(default=0.05, gt=0, lt=1, description="Per-test p-value level (per-test verdicts).")
    min_rows: int = Field(default=100, ge=2, description="Finite values a feature needs in both samples.")
    missing_share_increase: float = Field(
        default=0.05, gt=0, le=1, description="A feature's missing share rising by this much is a data-quality finding."
    )
    max_label_delay_hours: float | None = Field(
        default=None,
        gt=0,
        description="Labels arrive at most this long after their prediction: feedback hours later than a window's "
        "last prediction plus this are not read. null: no bound (every feedback hour from the window's start).",
    )
    tests: dict[FeatureKind, list[str]] = Field(
        default_factory=lambda: {
            FeatureKind.NUMERIC: ["ks", "wasserstein", "psi", "jensen_shannon"],
            FeatureKind.CATEGORICAL: ["chi2", "psi", "jensen_shannon"],
        },
        description="Tests run per feature kind.",
    )
    primary_test: dict[FeatureKind, str] = Field(
        default_factory=lambda: {FeatureKind.NUMERIC: "ks", FeatureKind.CATEGORICAL: "chi2"},
        description="Per kind, the test whose verdict (after multiple-testing control) is the feature's verdict.",
    )
    thresholds: dict[str, float] = Field(default_factory=dict, description="Global per-test threshold overrides.")
    features: dict[str, FeatureOverride] = Field(default_factory=dict, description="Per-feature overrides.")
    dataset: DatasetVerdictConfig = Field(
        default_factory=DatasetVerdictConfig, description="When the dataset as a whole is drifted."
    )
    label_shift: LabelShiftConfig = Field(
        default_factory=LabelShiftConfig, description="Label-shift estimation (BBSE, MLLS) and its verdict."
    )
    performance: PerformanceConfig = Field(
        default_factory=PerformanceConfig, description="Performance on labelled rows, and its decay test."
    )
    joint: JointDriftConfig = Field(
        default_factory=JointDriftConfig, description="The joint (multivariate) domain-classifier test."
    )
    schema_: SchemaConfig | None = Field(
        default=None, alias="schema", description="Explicit schema for a Parquet reference; null infers it."
    )

    @field_validator("thresholds")
    @classmethod
    def _known_thresholds(cls, v: dict[str, float]) -> dict[str, float]:
        _check_tests(v)
        if any(t <= 0 for t in v.values()):
            raise ValueError("thresholds must be > 0")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> DriftConfig:
        for kind, names in self.tests.items():
            _check_tests(names)
            wrong = [n for n in names if kind not in STAT_TESTS[n].kinds]
            if wrong:
                raise ValueError(f"tests {wrong} do not apply to {kind.value} features")
        for kind, name in self.primary_test.items():
            if name not in self.tests.get(kind, []):
                raise ValueError(f"primary_test {name!r} for {kind.value} is not in tests.{kind.value}")
        for feature, override in self.features.items():
            p = override.primary_test
            if p is not None and p not in STAT_TESTS:
                raise ValueError(f"features.{feature}.primary_test {p!r} is unknown; valid: {sorted(STAT_TESTS)}")
        return self

    def threshold_for(self, feature: str, test: str) -> float:
        override = self.features.get(feature)
        if override and test in override.thresholds:
            return override.thresholds[test]
        return self.thresholds.get(test, STAT_TESTS[test].default_threshold)

    def primary_for(self, feature: str, kind: FeatureKind) -> str:
        override = self.features.get(feature)
        return override.primary_test if override and override.primary_test else self.primary_test[kind]

    def tests_for(self, feature: str, kind: FeatureKind) -> list[str]:
        names = list(self.tests.get(kind, []))
        primary = self.primary_for(feature, kind)
        return names if primary in names else [primary, *names]

    def ignored(self, feature: str) -> bool:
        override = self.features.get(feature)
        return bool(override and override.ignore)
