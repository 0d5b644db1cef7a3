"""The user's table: reading files, folders and globs, inferring kinds and task, and refusing bad input clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from driftline.core.config import DatasetConfig
from driftline.core.errors import ConfigError, DataError
from driftline.datasets import infer_table, read_table
from driftline.platform.init_command import check_family, config_text, inspect_table


def _cfg(**extra: object) -> DatasetConfig:
    return DatasetConfig.model_validate({"path": "t.csv", "label": "y", **extra})


def _table(n: int = 100, **columns: object) -> pa.Table:
    rng = np.random.default_rng(0)
    base = {"x": rng.normal(size=n), "y": rng.choice(["no", "yes"], n)}
    return pa.table({**base, **columns})


@pytest.mark.parametrize(
    ("table", "extra", "match"),
    [
        (_table().drop(["y"]), {}, "Label column 'y' is not in the table"),
        (_table(y=np.linspace(0, 1, 100)), {"task": "binary"}, "100 distinct double values.*task: regression"),
        (_table(y=["yes"] * 100), {}, "one class only"),
        (_table(y=pa.nulls(100, pa.string())), {}, "no values"),
        (_table(y=np.arange(100) % 3), {"task": "binary"}, "binary but label 'y' has 3 classes"),
        (_table(empty=pa.nulls(100, pa.float64())), {}, "Column 'empty' is empty.*exclude"),
        (_table(name=[f"n{i % 80}" for i in range(100)]), {}, "'name' is a string with 80 distinct.*--exclude name"),
        (
            _table(a=[f"a{i}" for i in range(100)], b=[f"b{i}" for i in range(100)]),
            {},
            "'a' is a string with 100 distinct",  # two columns unique per row: which one is the key? --id says
        ),
        (_table(), {"features": {"exclude": ["nope"]}}, r"features.exclude names column\(s\) \['nope'\]"),
        (_table(city=["a"] * 100), {"features": {"numeric": ["city"]}}, "'city' is string and cannot be numeric"),
    ],
)
def test_bad_tables_are_refused_naming_the_column_and_the_fix(table: pa.Table, extra: dict, match: str) -> None:
    with pytest.raises(DataError, match=match):
        infer_table(table, _cfg(**extra))


def test_kinds_task_and_classes_are_inferred_with_reasons() -> None:
    n = 200
    table = _table(
        n,
        flag=[True, False] * (n // 2),
        zip=np.arange(n) % 7,
        when=pa.array(pd.date_range("2026-01-01", periods=n, freq="h")),
        y=(np.arange(n) % 3).astype(float),  # 0.0/1.0/2.0 from a CSV: classes 0, 1, 2
    )
    inferred = infer_table(table, _cfg(features={"categorical": ["zip"]}))
    kinds = {f.name: f.kind.value for f in inferred.schema.features}
    assert kinds == {"x": "numeric", "flag": "categorical", "zip": "categorical"}
    assert inferred.schema.classes == (0, 1, 2) and inferred.task.value == "multiclass"
    assert any(note.startswith("when: timestamp") and "not a feature" in note for note in inferred.notes)
    assert inferred.schema.feature("zip").categories == tuple(sorted(str(i) for i in range(7)))
    regression = infer_table(_table(y=np.linspace(0, 5, 100)), _cfg())
    assert regression.task.value == "regression" and regression.schema.classes == ()


def test_rows_without_a_label_are_dropped_and_said() -> None:
    inferred = infer_table(_table(y=pa.array(["no", None, "yes", "no"] * 25)), _cfg())
    assert len(inferred.frame) == 75 and any("25 rows without a label dropped" in n for n in inferred.notes)


def test_a_folder_of_parts_is_one_table_and_types_must_agree(tmp_path: Path) -> None:
    pd.DataFrame({"x": [1, 2], "y": ["a", "b"]}).to_parquet(tmp_path / "part-0.parquet")
    pd.DataFrame({"x": [2.5], "y": ["a"]}).to_csv(tmp_path / "part-1.csv", index=False)
    table = read_table(str(tmp_path))
    assert table.column("x").to_pylist() == [1.0, 2.0, 2.5]  # ints and floats widen to float
    assert read_table(str(tmp_path / "part-*")).num_rows == 3
    pd.DataFrame({"x": ["high"], "y": ["a"]}).to_csv(tmp_path / "part-2.csv", index=False)
    with pytest.raises(DataError, match=r"Column 'x' is int64 in .*part-0.parquet but string in .*part-2.csv"):
        read_table(str(tmp_path))


def test_missing_and_empty_tables_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_table(str(tmp_path / "nope.csv"))
    pd.DataFrame({"x": [], "y": []}).to_parquet(tmp_path / "empty.parquet")
    with pytest.raises(DataError, match="has no rows"):
        read_table(str(tmp_path / "empty.parquet"))
    with pytest.raises(DataError, match="no Parquet or CSV file"):
        read_table(str(tmp_path / "sub" if (tmp_path / "sub").mkdir() is None else tmp_path))


def test_init_pins_what_it_inferred_in_the_config_it_writes(tmp_path: Path) -> None:
    import yaml

    frame = pd.DataFrame({"id": [f"c{i}" for i in range(60)], "x": np.arange(60.0), "y": ["no", "yes"] * 30})
    frame.to_csv(tmp_path / "t.csv", index=False)
    dataset, inferred = inspect_table(str(tmp_path / "t.csv"), "y", exclude=["id"])
    written = yaml.safe_load(config_text(dataset, "mlp", len(inferred.frame)))
    assert written["dataset"]["features"] == {"exclude": ["id"], "categorical": [], "numeric": ["x"]}
    assert written["dataset"]["task"] == "binary" and written["train"]["train_rows"] == 60
    with pytest.raises(ConfigError, match=r"model\.family.*'forest'.*mlp"):
        check_family("forest")


def test_init_takes_the_one_time_column_as_the_time_order(tmp_path: Path) -> None:
    when = pd.date_range("2026-01-01", periods=60, freq="h", tz="UTC")[::-1]  # stored newest first
    frame = pd.DataFrame({"when": when, "x": np.arange(60.0), "y": ["no", "yes"] * 30})
    frame.to_parquet(tmp_path / "t.parquet")
    dataset, inferred = inspect_table(str(tmp_path / "t.parquet"), "y")
    assert dataset.timestamp == "when" and "when: time order of the rows" in inferred.notes
    assert inferred.frame["when"].is_monotonic_increasing


def test_a_string_column_unique_per_row_is_the_business_key_never_a_feature() -> None:
    inferred = infer_table(_table(order_id=[f"o-{i}" for i in range(100)]), DatasetConfig(path="t", label="y"))
    assert inferred.schema.id_column == "order_id" and "order_id" not in inferred.schema.feature_names
    assert any("order_id: string, unique per row -> the business key" in note for note in inferred.notes)
    declared = infer_table(_table(k=[f"k{i % 3}" for i in range(100)]), DatasetConfig(path="t", label="y", id="k"))
    assert declared.schema.id_column == "k" and "k" not in declared.schema.feature_names
