"""Infer the schema of the user's table: each column's kind, the task and the classes, with the reason for each.

Rules, in order: the label, id and timestamp columns and ``features.exclude`` are never features; ``features.numeric``
and ``features.categorical`` are taken as declared; numbers are numeric; booleans are categorical; a string column
with at most ``max_categories`` distinct values is categorical, a string column with more is refused (it is an id or
free text: exclude it, or declare it categorical to keep its most frequent values); date and time columns are not
features. The task follows the label: strings and booleans are classes; integers with at most
:data:`MAX_INTEGER_CLASSES` values are classes; other numbers are a regression target.

>>> import pyarrow as pa
>>> from driftline.core.config import DatasetConfig
>>> table = pa.table({"age": [31, 45, 27, 52], "city": ["oslo", "rome", "oslo", "rome"],
...                   "churned": ["no", "yes", "no", "yes"]})
>>> inferred = infer_table(table, DatasetConfig(path="t.csv", label="churned"))
>>> inferred.schema.classes, inferred.task.value
(('no', 'yes'), 'binary')
>>> print("\\n".join(inferred.notes))
churned: string, 2 values -> label of a binary classifier (classes no, yes)
age: int64 -> numeric
city: string, 2 values -> categorical
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from driftline.core.config import DatasetConfig, Task
from driftline.core.errors import DataError
from driftline.datasets.schema import ClassValue, DatasetSchema, FeatureKind, FeatureSpec, as_scalar

__all__ = ["MAX_CLASSES", "MAX_INTEGER_CLASSES", "InferredTable", "infer_table"]

MAX_INTEGER_CLASSES = 20  # an integer label with more distinct values is a count or an amount: regression
MAX_CLASSES = 200  # more classes than this is not a task driftline's classifiers are built for


@dataclass(frozen=True)
class InferredTable:
    """The table as pandas (label nulls dropped), its schema, the task and one line of reasoning per column."""

    frame: pd.DataFrame
    schema: DatasetSchema
    task: Task
    notes: tuple[str, ...]


def _distinct(column: pa.ChunkedArray) -> pa.Array:
    return pc.unique(pc.drop_null(column))


def _label(table: pa.Table, cfg: DatasetConfig) -> tuple[pa.ChunkedArray, Task, tuple[ClassValue, ...], str]:
    name = cfg.label
    if name not in table.column_names:
        raise DataError(
            f"Label column '{name}' is not in the table (columns: {table.column_names}).",
            "Fix dataset.label (or --label) to name the target column.",
        )
    column = table.column(name)
    kind = column.type
    values = _distinct(column)
    if len(values) == 0:
        raise DataError(f"Label column '{name}' has no values (every row is null).", "Pick the column to predict.")
    integral = pa.types.is_integer(kind) or (
        pa.types.is_floating(kind) and bool(pc.all(pc.equal(values, pc.floor(values))).as_py())
    )
    if pa.types.is_floating(kind) and integral and len(values) <= MAX_INTEGER_CLASSES:
        column, kind = column.cast(pa.int64()), pa.int64()  # 0.0/1.0 read from a CSV with gaps: classes 0 and 1
        values = _distinct(column)
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
    looks_continuous = numeric and (not integral or len(values) > MAX_INTEGER_CLASSES)
    task = cfg.task
    if task is None:
        task = Task.REGRESSION if looks_continuous else (Task.BINARY if len(values) <= 2 else Task.MULTICLASS)
    if task is Task.REGRESSION:
        if not numeric:
            raise DataError(
                f"Label column '{name}' is {kind}, but dataset.task is regression, which needs numbers.",
                "Set dataset.task to binary or multiclass, or pick a numeric target.",
            )
        return column, task, (), f"{name}: {kind}, {len(values)} values -> regression target"
    if looks_continuous:
        example = values.slice(0, 3).to_pylist()
        raise DataError(
            f"Label column '{name}' holds {len(values):,} distinct {kind} values (e.g. {example}): a classifier "
            "needs a few classes.",
            "Set dataset.task: regression for a numeric target, or pick a column of classes.",
        )
    if len(values) < 2:
        raise DataError(
            f"Label column '{name}' has one class only ({values.to_pylist()}): there is nothing to learn.",
            "Train on a table where the label takes at least two values.",
        )
    if len(values) > MAX_CLASSES:
        raise DataError(
            f"Label column '{name}' has {len(values):,} classes, more than driftline handles ({MAX_CLASSES}).",
            "Group rare classes, or pick another target.",
        )
    if task is Task.BINARY and len(values) > 2:
        raise DataError(
            f"dataset.task is binary but label '{name}' has {len(values)} classes.", "Set task: multiclass."
        )
    try:
        classes = tuple(sorted(as_scalar(v) for v in values.to_pylist()))
    except TypeError:
        raise DataError(f"Label column '{name}' mixes value types.", "Give the label one type.") from None
    shown = ", ".join(str(c) for c in classes[:10]) + (", ..." if len(classes) > 10 else "")
    reason = f"{name}: {kind}, {len(values)} values -> label of a {task.value} classifier (classes {shown})"
    return column, task, classes, reason


def _check_declared(table: pa.Table, cfg: DatasetConfig) -> None:
    named = {
        "dataset.features.exclude": cfg.features.exclude,
        "dataset.features.categorical": cfg.features.categorical,
        "dataset.features.numeric": cfg.features.numeric,
        "dataset.id": [cfg.id] if cfg.id else [],
    }
    for where, columns in named.items():
        missing = [c for c in columns if c not in table.column_names]
        if missing:
            raise DataError(
                f"{where} names column(s) {missing} that the table lacks.", f"Columns: {table.column_names}."
            )


def _feature(table: pa.Table, name: str, cfg: DatasetConfig) -> tuple[FeatureSpec | None, str]:
    """The feature a column becomes (None: not a feature) and why."""
    column = table.column(name)
    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.cast(kind.value_type), kind.value_type
    if column.null_count == len(column):
        raise DataError(
            f"Column '{name}' is empty (every value is null): it cannot be a feature.",
            f"Drop it from the table or add it to dataset.features.exclude: [{name}].",
        )
    missing = column.null_count / max(len(column), 1)
    gaps = f", {missing:.0%} missing" if missing else ""
    is_number = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
    is_text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
    if name in cfg.features.numeric:
        if not (is_number or pa.types.is_boolean(kind)):
            raise DataError(
                f"Column '{name}' is {kind} and cannot be numeric.", "Remove it from dataset.features.numeric."
            )
        return FeatureSpec(name, FeatureKind.NUMERIC), f"{name}: {kind}{gaps} -> numeric (declared)"
    if name in cfg.features.categorical or pa.types.is_boolean(kind) or is_text:
        counts = pc.value_counts(pc.drop_null(column))
        n_values = len(counts)
        declared = name in cfg.features.categorical
        if not declared and is_text and n_values > cfg.max_categories:
            raise DataError(
                f"Column '{name}' is a string with {n_values:,} distinct values in {len(column):,} rows: too many "
                "for a category (an id or free text?).",
                f"Exclude it (`driftline init --exclude {name}`, or dataset.features.exclude: [{name}]) or declare it "
                "categorical "
                f"(dataset.features.categorical: [{name}]) to keep its {cfg.max_categories} most frequent values.",
            )
        ranked = sorted(
            zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True),
            key=lambda vc: (-vc[1], str(vc[0])),
        )
        categories = tuple(sorted(str(v) for v, _ in ranked[: cfg.max_categories]))
        kept = f", the {len(categories)} most frequent kept" if n_values > len(categories) else ""
        why = " (declared)" if declared else ""
        note = f"{name}: {kind}, {n_values} values{gaps} -> categorical{why}{kept}"
        return FeatureSpec(name, FeatureKind.CATEGORICAL, categories), note
    if is_number:
        return FeatureSpec(name, FeatureKind.NUMERIC), f"{name}: {kind}{gaps} -> numeric"
    if pa.types.is_temporal(kind):
        return None, f"{name}: {kind} -> not a feature (a time column; set dataset.timestamp to order rows by it)"
    return None, f"{name}: {kind} -> not a feature (driftline reads numbers, strings and booleans)"


def _business_key(table: pa.Table, cfg: DatasetConfig) -> tuple[str | None, str | None]:
    """The id column (declared, or the one string column unique per row and too varied for a category) and why."""
    if cfg.id is not None:
        return cfg.id, f"{cfg.id}: the business key (declared): sent with each request, never a feature"
    skip = {cfg.label, cfg.timestamp, *cfg.features.exclude, *cfg.features.categorical}
    unique = []
    for name in table.column_names:
        column = table.column(name)
        text = pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
        if name in skip or not text or column.null_count or len(column) <= cfg.max_categories:
            continue
        if pc.count_distinct(column).as_py() == len(column):
            unique.append(name)
    if len(unique) != 1:
        return None, None
    name = unique[0]
    return name, (
        f"{name}: string, unique per row -> the business key (dataset.id): sent with each request and logged; "
        "labels can join on it (say `--exclude` to drop it instead)"
    )


def infer_table(table: pa.Table, cfg: DatasetConfig) -> InferredTable:
    """Schema, task and classes of ``table`` under ``cfg``; every refusal is a DataError naming column and fix."""
    _check_declared(table, cfg)
    label_column, task, classes, label_note = _label(table, cfg)
    notes = [label_note]
    id_column, id_note = _business_key(table, cfg)
    if id_note:
        notes.append(id_note)
    skip = {cfg.label, id_column, cfg.timestamp, *cfg.features.exclude}
    features = []
    for name in table.column_names:
        if name in skip:
            continue
        spec, note = _feature(table, name, cfg)
        notes.append(note)
        if spec is not None:
            features.append(spec)
    if not features:
        raise DataError("The table has no feature columns left.", "Check dataset.features.exclude and the label.")
    table = table.set_column(table.column_names.index(cfg.label), cfg.label, label_column)
    unlabelled = label_column.null_count
    if unlabelled:
        table = table.filter(pc.is_valid(label_column))
        notes.append(f"{cfg.label}: {unlabelled:,} rows without a label dropped")
    schema = DatasetSchema(tuple(features), cfg.label, classes, timestamp=cfg.timestamp, id_column=id_column)
    return InferredTable(table.to_pandas(), schema, task, tuple(notes))
