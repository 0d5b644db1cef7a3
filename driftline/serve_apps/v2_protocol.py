"""The Open Inference Protocol (v2, REST) that KServe, Seldon MLServer and Triton clients speak, over driftline's
tables: one named input tensor per feature (numbers as FP64 or any integer type, categories as BYTES), outputs
``predictions`` (the user's class values, or numbers for regression), ``probabilities`` ([rows, classes], for
classifiers) and ``feedback_tokens`` (BYTES, one per row, for labels sent later to ``/models/{name}/feedback``).
Inputs arrive as JSON or with the binary tensor extension (``Inference-Header-Content-Length``); answers are JSON.
Errors are ``{"error": "<message>"}``. Parsing and shaping only: the router routes, logs and counts as for
``/predict``.

>>> from driftline.datasets.synthetic import SYNTHETIC_SCHEMA
>>> body = {"inputs": [{"name": f"x{i}", "shape": [1], "datatype": "FP64", "data": [0.5]} for i in range(5)]
...        + [{"name": "region", "shape": [1], "datatype": "BYTES", "data": ["a"]}]}
>>> request = parse_infer(json.dumps(body).encode(), None, SYNTHETIC_SCHEMA)
>>> request.rows
[{'x0': 0.5, 'x1': 0.5, 'x2': 0.5, 'x3': 0.5, 'x4': 0.5, 'region': 'a'}]
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from driftline.datasets.schema import DatasetSchema, FeatureKind

__all__ = ["InferRequest", "V2Error", "infer_response", "model_metadata", "parse_infer"]

_NUMERIC = {
    "FP64": "<f8",
    "FP32": "<f4",
    "FP16": "<f2",
    "INT64": "<i8",
    "INT32": "<i4",
    "INT16": "<i2",
    "INT8": "i1",
    "UINT64": "<u8",
    "UINT32": "<u4",
    "UINT16": "<u2",
    "UINT8": "u1",
}


class V2Error(ValueError):
    """A request the protocol cannot take; ``status`` is the HTTP status of the ``{"error": ...}`` answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class InferRequest:
    rows: list[dict[str, Any]]  # one dict per row, features by name (validated by the router like /predict's)
    id: str | None


def _datatype(values: list[Any]) -> str:
    if all(isinstance(v, bool) for v in values):
        return "BOOL"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "INT64"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "FP64"
    return "BYTES"


def model_metadata(name: str, versions: list[str], schema: DatasetSchema) -> dict[str, Any]:
    """``GET /v2/models/{name}``: the inputs a request needs and the outputs it gets."""
    inputs = [
        {"name": f.name, "datatype": "FP64" if f.kind is FeatureKind.NUMERIC else "BYTES", "shape": [-1]}
        for f in schema.features
    ]
    if schema.id_column:  # the business key travels as one more input, a string per row
        inputs.append({"name": schema.id_column, "datatype": "BYTES", "shape": [-1]})
    datatype = _datatype(list(schema.classes)) if schema.classes else "FP64"
    outputs: list[dict[str, Any]] = [{"name": "predictions", "datatype": datatype, "shape": [-1]}]
    if not schema.is_regression:
        outputs.append({"name": "probabilities", "datatype": "FP64", "shape": [-1, len(schema.classes)]})
    outputs.append({"name": "feedback_tokens", "datatype": "BYTES", "shape": [-1]})
    return {"name": name, "versions": versions, "platform": "driftline", "inputs": inputs, "outputs": outputs}


def _split(body: bytes, header_length: str | None) -> tuple[dict[str, Any], bytes]:
    """The JSON header and the binary tail (the binary tensor extension), or the whole body as JSON."""
    try:
        if header_length is None:
            return json.loads(body), b""
        size = int(header_length)
        if not 0 <= size <= len(body):
            raise V2Error(f"Inference-Header-Content-Length {size} is outside the body's {len(body)} bytes.")
        return json.loads(body[:size]), body[size:]
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, V2Error):
            raise
        raise V2Error(f"The body is not a JSON inference request: {exc}.") from None


def _binary_values(datatype: str, raw: bytes, name: str) -> list[Any]:
    if datatype in _NUMERIC:
        dtype = np.dtype(_NUMERIC[datatype])
        if len(raw) % dtype.itemsize:
            raise V2Error(f"Input {name!r}: {len(raw)} bytes are not a whole number of {datatype} values.")
        return np.frombuffer(raw, dtype=dtype).tolist()
    if datatype == "BOOL":
        return [bool(b) for b in raw]
    if datatype == "BYTES":  # each element: a 4-byte little-endian length, then that many bytes
        values, at = [], 0
        while at < len(raw):
            if at + 4 > len(raw):
                raise V2Error(f"Input {name!r}: a BYTES element's length is cut off.")
            (size,) = struct.unpack_from("<I", raw, at)
            at += 4
            if at + size > len(raw):
                raise V2Error(f"Input {name!r}: a BYTES element runs past the data.")
            values.append(raw[at : at + size].decode("utf-8", errors="replace"))
            at += size
        return values
    raise V2Error(f"Input {name!r}: datatype {datatype!r} is not supported (numbers, BOOL or BYTES).")


def _flatten(data: Any) -> list[Any]:
    if isinstance(data, list):
        return [v for item in data for v in _flatten(item)]
    return [data]


def _values(tensor: Any, tail: bytes, at: int) -> tuple[str, list[Any], int]:
    """(name, its values, where the next binary tensor starts)."""
    if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
        raise V2Error("Every input must be an object with a 'name', 'shape', 'datatype' and 'data'.")
    name, datatype, shape = tensor["name"], tensor.get("datatype"), tensor.get("shape")
    if not isinstance(datatype, str) or not isinstance(shape, list) or not all(isinstance(d, int) for d in shape):
        raise V2Error(f"Input {name!r} needs a 'datatype' string and a 'shape' list of integers.")
    size = (tensor.get("parameters") or {}).get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or size < 0 or at + size > len(tail):
            raise V2Error(f"Input {name!r}: binary_data_size {size!r} does not fit the binary data.")
        values, at = _binary_values(datatype, tail[at : at + size], name), at + size
    elif "data" in tensor:
        values = _flatten(tensor["data"])
    else:
        raise V2Error(f"Input {name!r} has no 'data' (nor binary data).")
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
        raise V2Error(f"Input {name!r} has shape {shape}: a feature is one column, shape [rows] or [rows, 1].")
    if shape[0] != len(values):
        raise V2Error(f"Input {name!r} has shape {shape} but {len(values)} values.")
    return name, values, at


def parse_infer(body: bytes, header_length: str | None, schema: DatasetSchema) -> InferRequest:
    """The rows of an inference request: one input per feature, all of one length."""
    head, tail = _split(body, header_length)
    if not isinstance(head, dict) or not isinstance(head.get("inputs"), list) or not head["inputs"]:
        raise V2Error('The request needs "inputs": a list of tensors, one per feature.')
    columns: dict[str, list[Any]] = {}
    at = 0
    for tensor in head["inputs"]:
        name, values, at = _values(tensor, tail, at)
        if name in columns:
            raise V2Error(f"Input {name!r} is given twice.")
        columns[name] = values
    wanted = [*schema.feature_names, *([schema.id_column] if schema.id_column else [])]  # the id: one more input
    missing, unknown = [n for n in wanted if n not in columns], [n for n in columns if n not in wanted]
    if missing or unknown:
        raise V2Error(
            f"The inputs must be the model's features, one tensor each: missing {missing or 'none'}, "
            f"unknown {unknown or 'none'} (GET /v2/models/{{name}} lists them)."
        )
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise V2Error(f"Every input must have the same number of rows; got {sorted(lengths)}.")
    rows = [dict(zip(wanted, values, strict=True)) for values in zip(*(columns[n] for n in wanted), strict=True)]
    request_id = head.get("id")
    return InferRequest(rows, str(request_id) if request_id is not None else None)


def infer_response(
    name: str,
    version: str,
    request_id: str | None,
    predictions: list[Any],
    probabilities: list[list[float]] | None,
    feedback_tokens: list[str],
    parameters: dict[str, Any],
) -> dict[str, Any]:
    """The JSON answer: one output per kind, rows first."""
    rows = len(predictions)
    outputs = [{"name": "predictions", "datatype": _datatype(predictions), "shape": [rows], "data": predictions}]
    if probabilities is not None:
        width = len(probabilities[0]) if probabilities else 0
        flat = [p for row in probabilities for p in row]
        outputs.append({"name": "probabilities", "datatype": "FP64", "shape": [rows, width], "data": flat})
    outputs.append({"name": "feedback_tokens", "datatype": "BYTES", "shape": [rows], "data": feedback_tokens})
    answer: dict[str, Any] = {"model_name": name, "model_version": version, "outputs": outputs}
    if request_id is not None:
        answer["id"] = request_id
    answer["parameters"] = parameters
    return answer
