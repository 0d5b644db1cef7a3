"""The Open Inference Protocol's request parsing and answer shape, on driftline's table schema (no server)."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from driftline.datasets.synthetic import SYNTHETIC_SCHEMA
from driftline.serve_apps.v2_protocol import V2Error, infer_response, model_metadata, parse_infer

NUMERIC = [f"x{i}" for i in range(5)]


def _json(inputs: list[dict]) -> bytes:
    return json.dumps({"id": "q1", "inputs": inputs}).encode()


def _tensor(name: str, values: list, datatype: str = "FP64") -> dict:
    return {"name": name, "shape": [len(values)], "datatype": datatype, "data": values}


def test_json_tensors_become_rows_in_the_schemas_order() -> None:
    inputs = [_tensor("region", ["a", "b"], "BYTES"), *(_tensor(n, [1.0, 2.0]) for n in NUMERIC)]
    request = parse_infer(_json(inputs), None, SYNTHETIC_SCHEMA)
    assert request.id == "q1" and [list(r) for r in request.rows] == [[*NUMERIC, "region"]] * 2
    assert [r["region"] for r in request.rows] == ["a", "b"] and request.rows[1]["x3"] == 2.0


def test_the_binary_tensor_extension_as_tritonclient_sends_it() -> None:
    """Numbers as raw little-endian values, strings as 4-byte length prefixes; the JSON header says how long."""
    tail, inputs = b"", []
    for name in NUMERIC:
        raw = np.array([0.5, 1.5], dtype="<f4").tobytes()
        inputs.append({"name": name, "shape": [2, 1], "datatype": "FP32", "parameters": {"binary_data_size": len(raw)}})
        tail += raw
    strings = b"".join(struct.pack("<I", len(s)) + s for s in (b"a", b"c"))
    inputs.append(
        {"name": "region", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": len(strings)}}
    )
    header = json.dumps({"inputs": inputs}).encode()
    request = parse_infer(header + tail + strings, str(len(header)), SYNTHETIC_SCHEMA)
    assert request.rows[1] == {**dict.fromkeys(NUMERIC, 1.5), "region": "c"} and request.id is None


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ([_tensor(n, [1.0]) for n in NUMERIC], "missing \\['region'\\]"),
        ([*(_tensor(n, [1.0]) for n in NUMERIC), _tensor("region", ["a"], "BYTES"), _tensor("zz", [1])], "unknown"),
        ([*(_tensor(n, [1.0]) for n in NUMERIC), _tensor("region", ["a", "b"], "BYTES")], "same number of rows"),
        ([{"name": "x0", "shape": [2], "datatype": "FP64", "data": [1.0]}], "shape \\[2\\] but 1 values"),
        ([{"name": "x0", "shape": [1], "datatype": "FP64"}], "no 'data'"),
        ([{"name": "x0", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}], "one column"),
    ],
)
def test_bad_tensors_are_refused_with_what_to_fix(inputs: list[dict], message: str) -> None:
    with pytest.raises(V2Error, match=message):
        parse_infer(_json(inputs), None, SYNTHETIC_SCHEMA)


def test_a_body_that_is_not_an_inference_request() -> None:
    for body, header in ((b"{nope", None), (b'{"inputs": []}', None), (b"{}", "99")):
        with pytest.raises(V2Error):
            parse_infer(body, header, SYNTHETIC_SCHEMA)


def test_metadata_and_answers_name_their_tensors() -> None:
    meta = model_metadata("churn", ["3"], SYNTHETIC_SCHEMA)
    assert [i["name"] for i in meta["inputs"]] == [*NUMERIC, "region"] and meta["inputs"][-1]["datatype"] == "BYTES"
    assert [o["name"] for o in meta["outputs"]] == ["predictions", "probabilities", "feedback_tokens"]
    answer = infer_response("churn", "3", "q1", [1, 0], [[0.2, 0.8], [0.9, 0.1]], ["t0", "t1"], {"variant": "champion"})
    outputs = {o["name"]: o for o in answer["outputs"]}
    assert outputs["predictions"]["datatype"] == "INT64" and outputs["probabilities"]["shape"] == [2, 2]
    assert outputs["probabilities"]["data"] == [0.2, 0.8, 0.9, 0.1] and answer["id"] == "q1"
