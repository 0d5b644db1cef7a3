"""Parse and validate prediction payloads; every problem becomes a :class:`PayloadError` with a 4xx status.

Accepted bodies: ``{"instances": [{...}, ...]}``, MLflow's ``{"dataframe_records": [...]}`` and
``{"dataframe_split": {"columns": [...], "data": [[...], ...]}}``.

>>> from driftline.datasets.synthetic import SYNTHETIC_SCHEMA
>>> row = {"x0": 0.1, "x1": 0.0, "x2": 1.0, "x3": 2.0, "x4": -1.0, "region": "a"}
>>> parse_payload({"instances": [row]}, SYNTHETIC_SCHEMA, max_rows=10).shape
(1, 6)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from driftline.core.errors import DataError
from driftline.datasets.schema import DatasetSchema, FeatureKind

__all__ = [
    "MAX_ID_CHARS",
    "MAX_NUMERIC",
    "ParsedRows",
    "PayloadError",
    "parse_payload",
    "parse_records",
    "parse_rows",
    "records_of",
]


class PayloadError(DataError):
    """A request body the API cannot use; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, row: int | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.field, self.row = status, code, field, row
        self.args = (status, code, message, field, row)

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field, "row": self.row}}


def records_of(body: Any) -> list[Any]:
    """The list of row objects in any accepted body shape."""
    if not isinstance(body, dict):
        raise PayloadError(400, "bad_body", 'The body must be a JSON object such as {"instances": [{...}]}.')
    keys = [k for k in ("instances", "dataframe_records", "dataframe_split") if k in body]
    if len(keys) != 1:
        raise PayloadError(
            400, "bad_body", "Give exactly one of 'instances', 'dataframe_records' or 'dataframe_split'.", field="body"
        )
    key = keys[0]
    if key != "dataframe_split":
        rows = body[key]
        if not isinstance(rows, list):
            raise PayloadError(400, "bad_body", f"'{key}' must be a list of objects.", field=key)
        return rows
    split = body[key]
    if (
        not isinstance(split, dict)
        or not isinstance(split.get("columns"), list)
        or not isinstance(split.get("data"), list)
    ):
        raise PayloadError(400, "bad_body", "'dataframe_split' needs 'columns' (list) and 'data' (list of lists).", key)
    columns = split["columns"]
    if not all(isinstance(c, str) for c in columns):
        raise PayloadError(400, "bad_body", "'dataframe_split.columns' must be a list of feature names.", key)
    rows = []
    for i, values in enumerate(split["data"]):
        if not isinstance(values, list) or len(values) != len(columns):
            raise PayloadError(422, "bad_row", f"Row {i} must be a list of {len(columns)} values.", "data", i)
        rows.append(dict(zip(columns, values, strict=True)))
    return rows


# The model computes in float32: a larger magnitude overflows to inf and the answer would be NaN.
MAX_NUMERIC = 3.0e38
MAX_ID_CHARS = 128  # a business key longer than this is refused (it is logged and indexed with every row)


@dataclass(frozen=True)
class ParsedRows:
    """A request's rows as the model takes them, and each row's business key (None: the model has none)."""

    rows: list[dict[str, Any]]
    ids: list[str] | None


def _business_key(name: str, value: Any, row: int) -> str:
    """The row's id as a string: a string or an integer, 1 to MAX_ID_CHARS characters."""
    if value is None:
        raise PayloadError(422, "missing_id", f"Row {row} lacks the id '{name}' (the model's business key).", name, row)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise PayloadError(
            422, "wrong_type", f"The id '{name}' must be a string or an integer, got {value!r}.", name, row
        )
    text = str(value)
    if not 0 < len(text) <= MAX_ID_CHARS:
        raise PayloadError(
            422, "bad_id", f"The id '{name}' must have 1 to {MAX_ID_CHARS} characters, got {len(text)}.", name, row
        )
    return text


def _check_value(kind: FeatureKind, name: str, value: Any, row: int) -> None:
    """A number for a numeric feature; a string, integer or boolean for a categorical one; null for a gap."""
    if value is None:
        return
    if kind is FeatureKind.NUMERIC:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PayloadError(422, "wrong_type", f"Feature '{name}' must be a number, got {value!r}.", name, row)
        if isinstance(value, float) and not math.isfinite(value):
            raise PayloadError(422, "not_finite", f"Feature '{name}' must be finite, got {value!r}.", name, row)
        if not -MAX_NUMERIC <= value <= MAX_NUMERIC:  # also a 400-digit integer, which float() cannot hold
            shown = f"{value:.3g}" if isinstance(value, float) else f"an integer of {len(str(abs(value)))} digits"
            raise PayloadError(
                422, "out_of_range", f"Feature '{name}' is {shown}; the limit is ±{MAX_NUMERIC:g}.", name, row
            )
    elif not isinstance(value, (str, int)):  # bool is an int
        raise PayloadError(
            422, "wrong_type", f"Feature '{name}' is categorical: send a string (or integer), got {value!r}.", name, row
        )


def parse_payload(body: Any, schema: DatasetSchema, max_rows: int) -> pd.DataFrame:
    """Validate ``body`` against ``schema`` and return the features as a DataFrame in schema order."""
    return pd.DataFrame.from_records(parse_records(body, schema, max_rows), columns=list(schema.feature_names))


def parse_records(body: Any, schema: DatasetSchema, max_rows: int) -> list[dict[str, Any]]:
    """Validate ``body`` against ``schema``; the rows as plain dicts of exactly the schema's features, in order."""
    return parse_rows(body, schema, max_rows).rows


def parse_rows(body: Any, schema: DatasetSchema, max_rows: int) -> ParsedRows:
    """Validate ``body`` against ``schema``: the rows as plain dicts of exactly the schema's features, in order, and
    (when the model has a business key, ``schema.id_column``) each row's id, which every row must carry.

    The router's hot path uses this: building, pickling and unpickling a one-row DataFrame (and turning it back
    into records for the log) costs about 1 ms of CPU per request; a list of dicts a few microseconds.
    """
    rows = records_of(body)
    if not rows:
        raise PayloadError(422, "empty_batch", "The batch is empty; send at least one row.", "instances")
    if len(rows) > max_rows:
        raise PayloadError(413, "batch_too_large", f"{len(rows)} rows exceed the limit of {max_rows}; split the batch.")
    specs = [(spec.kind, spec.name) for spec in schema.features]
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise PayloadError(422, "bad_row", f"Row {i} must be an object of feature values.", row=i)
        for kind, name in specs:
            if name not in row:
                raise PayloadError(422, "missing_feature", f"Row {i} lacks feature '{name}'.", name, i)
            _check_value(kind, name, row[name], i)
    key = schema.id_column
    ids = [_business_key(key, row.get(key), i) for i, row in enumerate(rows)] if key else None
    # Numbers as float and categories as str: the prediction log then gets one column type per feature whatever
    # the client sent (1 or 1.0; "7" or 7); a gap stays None.
    return ParsedRows([{name: _normal(kind, row[name]) for kind, name in specs} for row in rows], ids)


def _normal(kind: FeatureKind, value: Any) -> Any:
    if value is None:
        return None
    return float(value) if kind is FeatureKind.NUMERIC else str(value)
