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
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = values.cast(pa.string())
    vc = pc.value_counts(values)
    keys = vc.field("values").to_pylist()
    counts = vc.field("counts").to_pylist()
    return CategoricalSummary({str(k): int(c) for k, c in zip(keys, counts, strict=True)}, n_missing)


def class_index(column: ArrowColumn, classes: Sequence[int], name: str) -> np.ndarray:
    """Index into ``classes`` for each value (-1 for null); a value outside ``classes`` is a DataError."""
    t = column.type
    if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_null(t)):
        raise DataError(
            f"Column '{name}' holds class labels and must be integer, but has type {t}.",
            f"Store class indices {list(classes)} as int64.",
        )
    x = float_values(column, name)
    out = np.full(x.shape, -1, dtype=np.int64)
    known = ~np.isnan(x)
    if not known.any():
        return out
    vals = x[known]
    cls = np.asarray(sorted(classes), dtype=np.float64)
    pos = np.searchsorted(cls, vals)
    pos_clipped = np.minimum(pos, len(cls) - 1) if len(cls) else pos
    ok = (pos < len(cls)) & (cls[pos_clipped] == vals) if len(cls) else np.zeros(vals.shape, bool)
    if not ok.all():
        bad = np.unique(vals[~ok])[:5].tolist()
        raise DataError(
            f"Column '{name}' has values {bad} that are not classes of the reference {list(classes)}.",
            "Check that the window and the reference come from the same task (same label encoding).",
        )
    order = np.argsort(np.asarray(classes))  # sorted position -> index in ``classes``
    out[known] = order[pos]
    return out
