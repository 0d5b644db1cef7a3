"""Turn Arrow columns into the numpy arrays the summaries need, with one clear error per kind of bad input.

Both engines and the profile builder go through these functions, so a wrong type is reported the same way
whichever engine runs.

>>> import pyarrow as pa
>>> float_values(pa.chunked_array([[1, None, 3]]), "x").tolist()
[1.0, nan, 3.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from driftline.core.errors import DataError
from driftline.monitors.summaries import CategoricalSummary

__all__ = ["category_counts", "class_index", "float_values", "is_categorical_type", "is_numeric_type"]

ArrowColumn: TypeAlias = Any  # pa.Array | pa.ChunkedArray (pyarrow ships no type stubs)


def is_numeric_type(t: pa.DataType) -> bool:
    return bool(
        pa.types.is_floating(t)
        or pa.types.is_integer(t)
        or pa.types.is_boolean(t)
        or pa.types.is_decimal(t)
        or pa.types.is_null(t)
    )


def is_categorical_type(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return is_categorical_type(t.value_type)
    return bool(
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_boolean(t)
        or pa.types.is_integer(t)
        or pa.types.is_null(t)
        or getattr(pa.types, "is_string_view", lambda _t: False)(t)
    )


def float_values(column: ArrowColumn, name: str) -> np.ndarray:
    """float64 values of a numeric column; nulls become NaN (counted as missing, never binned)."""
    if not is_numeric_type(column.type):
        raise DataError(
            f"Column '{name}' should be numeric but has Arrow type {column.type}.",
            "Cast it to a float column, or declare it categorical in the drift config's schema.",
        )
    if not pa.types.is_float64(column.type):
        column = column.cast(pa.float64())
    if isinstance(column, pa.ChunkedArray):
        if column.num_chunks == 1:
            column = column.chunk(0)
        elif column.num_chunks == 0:
            return np.empty(0, np.float64)
    out = column.to_numpy(zero_copy_only=False)
    return np.asarray(out, dtype=np.float64)


def category_counts(column: ArrowColumn, name: str) -> CategoricalSummary:
    """Counts per value (as strings) and the number of nulls of a categorical column."""
    if not is_categorical_type(column.type):
        raise DataError(
            f"Column '{name}' should be categorical (string, integer, bool or dictionary) but has type {column.type}.",
            "Store categories as strings, or declare the column numeric in the drift config's schema.",
        )
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    n_missing = int(column.null_count)
    values = pc.drop_null(column)
    if len(values) == 0:
        return CategoricalSummary({}, n_missing)
    if pa.types.is_boolean(values.type):  # as Python spells them, like the router's log and the preprocessor
        values = pc.if_else(values, "True", "False")
    elif not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = values.cast(pa.string())
    vc = pc.value_counts(values)
    keys = vc.field("values").to_pylist()
    counts = vc.field("counts").to_pylist()
    return CategoricalSummary({str(k): int(c) for k, c in zip(keys, counts, strict=True)}, n_missing)


def class_index(column: ArrowColumn, classes: Sequence[Any], name: str) -> np.ndarray:
    """Index into ``classes`` for each value (-1 for null); a value outside ``classes`` is a DataError.

    Classes may be strings, booleans or numbers; the column must hold the same kind.

    >>> class_index(pa.chunked_array([["no", None, "yes"]]), ("no", "yes"), "y").tolist()
    [0, -1, 1]
    """
    t = column.type
    if pa.types.is_dictionary(t):
        column, t = column.cast(t.value_type), t.value_type
    if pa.types.is_null(t) or not len(classes):
        return np.full(len(column), -1, dtype=np.int64)
    try:
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            value_set = pa.array([str(c) for c in classes], type=t)
        else:
            value_set = pa.array(list(classes)).cast(t)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        raise DataError(
            f"Column '{name}' holds class labels but has type {t}, which cannot hold the classes {list(classes)}.",
            "Check that the window and the reference come from the same task (same label column and values).",
        ) from None
    valid = pc.is_valid(column)
    if pa.types.is_floating(t):
        valid = pc.and_(valid, pc.invert(pc.is_nan(column)))
    index = pc.index_in(column, value_set=value_set)
    unknown = pc.and_(valid, pc.is_null(index))
    if pc.any(unknown).as_py():
        bad = pc.unique(pc.filter(column, unknown)).to_pylist()[:5]
        raise DataError(
            f"Column '{name}' has values {bad} that are not classes of the reference {list(classes)}.",
            "Check that the window and the reference come from the same task (same label encoding).",
        )
    return np.asarray(pc.fill_null(index, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
