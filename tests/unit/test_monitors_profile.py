"""Reference profiles and mergeable summaries: round trips, exact counts, bad input, the fast binning."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from driftline.core.errors import DataError
from driftline.datasets.schema import DatasetSchema, FeatureKind, FeatureSpec
from driftline.monitors.profile import ReferenceProfile, build_reference_profile, infer_schema
from driftline.monitors.summaries import NumericSummary, bin_index

SCHEMA = DatasetSchema(
    (FeatureSpec("x0", FeatureKind.NUMERIC), FeatureSpec("x1", FeatureKind.NUMERIC),
     FeatureSpec("region", FeatureKind.CATEGORICAL)),
    label="y", classes=(0, 1),
)  # fmt: skip


def _frame(n: int = 5_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x0": rng.normal(0, 1, n),
            "x1": rng.exponential(2.0, n),
            "region": rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2]),
            "y": (rng.random(n) < 0.25).astype(np.int64),
        }
    )


def test_profile_contents_and_json_round_trip() -> None:
    df = _frame()
    cm = np.array([[3000, 700], [200, 1100]])
    prof = build_reference_profile(df, SCHEMA, confusion_matrix=cm, baseline={"accuracy": 0.82, "n": 5000})
    x0 = prof.numeric["x0"]
    assert x0.counts.sum() == 5000 and len(x0.counts) == len(x0.edges) + 1 and len(x0.edges) == 999
    assert x0.mean == pytest.approx(df["x0"].mean(), abs=1e-12)
    assert x0.std == pytest.approx(df["x0"].std(ddof=0), rel=1e-12)
    assert x0.sums.sum() == pytest.approx(df["x0"].sum(), abs=1e-9)
    assert prof.categorical["region"].counts == df["region"].value_counts().to_dict()
    assert prof.label_prior == pytest.approx({"0": float((df.y == 0).mean()), "1": float((df.y == 1).mean())})
    text = prof.to_json()
    json.loads(text)  # strict JSON (no NaN)
    back = ReferenceProfile.from_json(text)
    assert back.to_dict() == prof.to_dict()
    np.testing.assert_array_equal(back.confusion_matrix, cm)
    assert back.baseline == {"accuracy": 0.82, "n": 5000.0}


def test_profile_counts_equal_binning_the_raw_values() -> None:
    df = _frame(seed=3)
    prof = build_reference_profile(df, SCHEMA, n_bins=50)
    for name in ("x0", "x1"):
        s = prof.numeric[name]
        direct = np.bincount(np.searchsorted(s.edges, df[name], side="left"), minlength=len(s.counts))
        np.testing.assert_array_equal(s.counts, direct)


def test_profile_bad_inputs() -> None:
    df = _frame()
    with pytest.raises(DataError, match="lacks feature columns"):
        build_reference_profile(df.drop(columns="x1"), SCHEMA)
    with pytest.raises(DataError, match="should be numeric"):
        build_reference_profile(df.assign(x0=df["region"]), SCHEMA)
    with pytest.raises(DataError, match="confusion_matrix"):
        build_reference_profile(df, SCHEMA, confusion_matrix=np.ones((3, 3)))
    with pytest.raises(DataError, match="not classes"):
        build_reference_profile(df.assign(y=df["y"] + 5), SCHEMA)
    with pytest.raises(DataError, match="no rows"):
        build_reference_profile(df.iloc[:0], SCHEMA)
    with pytest.raises(DataError, match="version"):
        ReferenceProfile.from_dict({**build_reference_profile(df, SCHEMA).to_dict(), "profile_version": "9.0"})


def test_profile_constant_and_nonfinite_reference_columns() -> None:
    df = _frame().assign(x0=4.0)
    df.loc[:9, "x1"] = np.nan
    df.loc[10:12, "x1"] = np.inf
    prof = build_reference_profile(df, SCHEMA)
    assert prof.numeric["x0"].std == 0 and len(prof.numeric["x0"].edges) == 1
    assert (prof.numeric["x1"].n_nan, prof.numeric["x1"].n_inf, prof.numeric["x1"].n) == (10, 3, 4987)
    json.loads(prof.to_json())


def test_summaries_of_blocks_merge_to_the_summary_of_the_whole() -> None:
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.normal(size=10_000), [np.nan, np.inf, -np.inf]])
    edges = np.quantile(rng.normal(size=1000), np.linspace(0.01, 0.99, 99))
    whole = NumericSummary.from_values(x, edges, shift=0.1)
    parts = [NumericSummary.from_values(chunk, edges, shift=0.1) for chunk in np.array_split(x, 7)]
    merged = parts[0]
    for p in parts[1:]:
        merged = merged.merge(p)
    np.testing.assert_array_equal(merged.counts, whole.counts)
    np.testing.assert_allclose(merged.sums, whole.sums, rtol=1e-12, atol=1e-12)
    assert (merged.n, merged.n_nan, merged.n_inf, merged.min, merged.max) == (
        whole.n, whole.n_nan, whole.n_inf, whole.min, whole.max)  # fmt: skip
    assert merged.std == pytest.approx(whole.std, rel=1e-12)


@pytest.mark.parametrize("dist", ["normal", "lognormal", "integers", "uniform", "mixture"])
def test_bin_index_equals_searchsorted(dist: str) -> None:
    rng = np.random.default_rng(5)
    draw = {
        "normal": lambda n: rng.normal(size=n),
        "lognormal": lambda n: rng.lognormal(0, 2, n),
        "integers": lambda n: rng.integers(0, 40, n).astype(float),
        "uniform": lambda n: rng.random(n),
        "mixture": lambda n: np.concatenate([rng.normal(0, 1e-3, n // 2), rng.normal(100, 10, n - n // 2)]),
    }[dist]
    edges = np.unique(np.quantile(draw(50_000), np.arange(1, 1000) / 1000))
    near = [np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf)]
    x = np.concatenate([draw(100_000), edges, *near, [-1e300, 1e300]])
    np.testing.assert_array_equal(bin_index(x, edges), np.searchsorted(edges, x, side="left"))


def test_infer_schema_from_column_types() -> None:
    table = pa.table(
        {
            "a": pa.array([1.0]), "n": pa.array([1], pa.int32()), "c": pa.array(["u"]),
            "d": pa.array(["v"]).dictionary_encode(), "label": pa.array([1]), "prediction": pa.array([1]),
            "request_id": pa.array(["r"]), "probabilities": pa.array([[0.1, 0.9]]),
        }
    )  # fmt: skip
    schema = infer_schema(table.schema)
    assert [(f.name, f.kind) for f in schema.features] == [
        ("a", FeatureKind.NUMERIC), ("n", FeatureKind.NUMERIC),
        ("c", FeatureKind.CATEGORICAL), ("d", FeatureKind.CATEGORICAL),
    ]  # fmt: skip
    assert schema.label == "label"
    with pytest.raises(DataError, match="no feature columns"):
        infer_schema(pa.table({"label": [1]}).schema)
