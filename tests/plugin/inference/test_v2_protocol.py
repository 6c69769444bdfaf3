"""The v2 payload codecs: JSON and binary tensors round-trip bit for bit, the body framing
follows Triton's binary tensor extension, and malformed payloads are V2FormatError."""

from __future__ import annotations

import json

import numpy as np
import pytest

from plugin.inference.v2_protocol import (
    HEADER_LENGTH,
    InferenceRequest,
    RequestOutput,
    V2FormatError,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
    wants_binary,
)

RNG = np.random.default_rng(7)
BATCH = RNG.normal(size=(2, 3, 8, 8)).astype(np.float32)


@pytest.mark.parametrize("binary", [False, True])
def test_request_round_trip_is_exact(binary: bool) -> None:
    body, headers = encode_request(
        {"image": BATCH}, ["grade_probs"], request_id="r1", binary=binary
    )
    request, tensors = decode_request(body, headers.get(HEADER_LENGTH))
    assert request.id == "r1"
    assert [o.name for o in request.outputs or ()] == ["grade_probs"]
    assert tensors["image"].dtype == np.float32 and tensors["image"].shape == BATCH.shape
    assert np.array_equal(tensors["image"], BATCH)  # float32 survives JSON exactly too
    assert wants_binary(request, (request.outputs or ())[0]) is binary
    if binary:
        assert headers["Content-Type"] == "application/octet-stream"
        assert int(headers[HEADER_LENGTH]) == len(body) - BATCH.nbytes
    else:
        assert headers == {"Content-Type": "application/json"}
        assert json.loads(body)["inputs"][0]["data"][:2] == BATCH.ravel()[:2].tolist()


def test_response_mixes_json_and_binary_outputs_in_order() -> None:
    probs = RNG.random((2, 5)).astype(np.float32)
    maps = RNG.random((2, 4, 4, 4)).astype(np.float32)
    ids = np.array([[1, 2], [3, 4]], np.int64)
    body, headers = encode_response(
        model_name="tiny",
        model_version="0.0.1",
        request_id="r1",
        outputs=[("probs", probs, True), ("ids", ids, False), ("maps", maps, True)],
    )
    response, tensors = decode_response(body, headers[HEADER_LENGTH])
    assert (response.model_name, response.model_version, response.id) == ("tiny", "0.0.1", "r1")
    assert [o.datatype for o in response.outputs] == ["FP32", "INT64", "FP32"]
    assert np.array_equal(tensors["probs"], probs) and np.array_equal(tensors["maps"], maps)
    assert tensors["ids"].dtype == np.int64 and np.array_equal(tensors["ids"], ids)


def test_triton_documented_binary_request_decodes() -> None:
    """The example of Triton's binary tensor data extension: a [2, 2] UINT32 and a [3]
    BOOL input, 19 bytes after the JSON."""
    head = json.dumps(
        {
            "model_name": "mymodel",
            "inputs": [
                {
                    "name": "input0",
                    "shape": [2, 2],
                    "datatype": "UINT32",
                    "parameters": {"binary_data_size": 16},
                },
                {
                    "name": "input1",
                    "shape": [3],
                    "datatype": "BOOL",
                    "parameters": {"binary_data_size": 3},
                },
            ],
            "outputs": [{"name": "output0", "parameters": {"binary_data": True}}],
        }
    ).encode()
    tail = np.array([1, 2, 3, 4], "<u4").tobytes() + bytes([1, 0, 1])
    request, tensors = decode_request(head + tail, str(len(head)))
    assert tensors["input0"].tolist() == [[1, 2], [3, 4]]
    assert tensors["input1"].tolist() == [True, False, True]
    assert wants_binary(request, (request.outputs or ())[0])


def test_nested_json_data_is_accepted() -> None:
    body = json.dumps(
        {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2], [3, 4]]}]}
    ).encode()
    _, tensors = decode_request(body, None)
    assert tensors["x"].tolist() == [[1.0, 2.0], [3.0, 4.0]]


def _one_input(**fields: object) -> bytes:
    item = {"name": "x", "shape": [2], "datatype": "FP32", "data": [1.0, 2.0]} | fields
    return json.dumps({"inputs": [item]}).encode()


@pytest.mark.parametrize(
    ("body", "header", "message"),
    [
        (b"{not json", None, "not JSON"),
        (b'{"inputs": []}', None, "inputs invalid"),
        (_one_input(datatype="BYTES"), None, "not supported"),
        (_one_input(data=[1.0, 2.0, 3.0]), None, "3 values for shape [2]"),
        (_one_input(data=["a", "b"]), None, "data is not FP32"),
        (_one_input(data=None), None, "no data"),
        (_one_input(shape=[-1]), None, "negative dimension"),
        (_one_input(parameters={"binary_data_size": 8}, data=None), None, "shorter"),
        (_one_input(parameters={"binary_data_size": 6}, data=None), None, "does not fit"),
        (_one_input(), "9999", "does not fit the body"),
        (_one_input(), "abc", "not a number"),
    ],
)
def test_malformed_requests(body: bytes, header: str | None, message: str) -> None:
    with pytest.raises(V2FormatError, match=message.replace("[", r"\[").replace("]", r"\]")):
        decode_request(body, header)


def test_trailing_binary_data_is_refused() -> None:
    body, headers = encode_request({"x": BATCH}, [], request_id="r", binary=True)
    with pytest.raises(V2FormatError, match="longer"):
        decode_request(body + b"\0\0\0\0", headers[HEADER_LENGTH])


def test_json_cannot_carry_nan() -> None:
    bad = np.array([np.nan], np.float32)
    with pytest.raises(V2FormatError, match="NaN"):
        encode_request({"x": bad}, [], request_id="r", binary=False)
    body, headers = encode_request({"x": bad}, [], request_id="r", binary=True)
    _, tensors = decode_request(body, headers[HEADER_LENGTH])
    assert np.isnan(tensors["x"][0])


def test_binary_output_choice_precedence() -> None:
    request = InferenceRequest.model_validate(
        {
            "parameters": {"binary_data_output": True},
            "inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}],
        }
    )
    assert wants_binary(request, None)
    assert wants_binary(request, RequestOutput(name="a"))
    assert not wants_binary(request, RequestOutput(name="a", parameters={"binary_data": False}))
