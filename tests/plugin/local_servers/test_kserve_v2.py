"""The local KServe v2 server over real HTTP on 127.0.0.1: health, server and model
metadata, inference in JSON and binary (outputs equal to onnxruntime's own), errors as
{"error": ...} with the right status, model unload (503), and the separate-process form."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from plugin.inference.v2_protocol import HEADER_LENGTH, decode_response, encode_request
from plugin.local_servers.kserve_v2 import LocalKServeV2Process, LocalKServeV2Server

OUTPUTS = ["grade_probs", "referable_prob", "lesion_maps"]
BATCH = np.random.default_rng(3).normal(size=(2, 3, 64, 64)).astype(np.float32)


@pytest.fixture(scope="module")
def server(tiny_grader_bundle: Path) -> Iterator[LocalKServeV2Server]:
    with LocalKServeV2Server.for_bundle(tiny_grader_bundle, threads=1) as srv:
        yield srv


@pytest.fixture
def http(server: LocalKServeV2Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def expected(tiny_grader_bundle: Path) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(
        str(tiny_grader_bundle / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    return dict(zip(OUTPUTS, session.run(OUTPUTS, {"image": BATCH}), strict=True))


def test_health_and_server_metadata(http: httpx.Client) -> None:
    assert http.get("/v2/health/live").json() == {"live": True}
    assert http.get("/v2/health/ready").status_code == 200
    meta = http.get("/v2").json()
    assert "binary_tensor_data" in meta["extensions"]


def test_model_metadata_describes_the_onnx_graph(http: httpx.Client) -> None:
    meta = http.get("/v2/models/tiny").json()
    assert meta["name"] == "tiny" and meta["versions"] == ["0.0.1"]
    assert meta["platform"] == "onnxruntime_onnx"
    assert meta["inputs"] == [{"name": "image", "datatype": "FP32", "shape": [-1, 3, 64, 64]}]
    outputs = {o["name"]: (o["datatype"], o["shape"]) for o in meta["outputs"]}
    assert outputs["lesion_maps"] == ("FP32", [-1, 4, 4, 4])
    assert outputs["referable_prob"] == ("FP32", [-1])
    assert http.get("/v2/models/tiny/versions/0.0.1").json() == meta
    assert http.get("/v2/models/tiny/ready").json() == {"name": "tiny", "ready": True}


@pytest.mark.parametrize("binary", [False, True])
def test_infer_equals_onnxruntime(
    http: httpx.Client, expected: dict[str, np.ndarray], binary: bool
) -> None:
    body, headers = encode_request({"image": BATCH}, OUTPUTS, request_id="42", binary=binary)
    response = http.post("/v2/models/tiny/versions/0.0.1/infer", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert (HEADER_LENGTH in response.headers) is binary
    decoded, tensors = decode_response(response.content, response.headers.get(HEADER_LENGTH))
    assert (decoded.model_name, decoded.model_version, decoded.id) == ("tiny", "0.0.1", "42")
    assert [o.name for o in decoded.outputs] == OUTPUTS
    for name in OUTPUTS:
        assert np.array_equal(tensors[name], expected[name]), name


def test_binary_inputs_with_json_outputs_and_all_outputs_by_default(
    http: httpx.Client, expected: dict[str, np.ndarray]
) -> None:
    raw = BATCH.tobytes()
    head = json.dumps(
        {
            "inputs": [
                {
                    "name": "image",
                    "shape": list(BATCH.shape),
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": len(raw)},
                }
            ]
        }
    ).encode()
    response = http.post(
        "/v2/models/tiny/infer",
        content=head + raw,
        headers={"Content-Type": "application/octet-stream", HEADER_LENGTH: str(len(head))},
    )
    assert response.status_code == 200 and HEADER_LENGTH not in response.headers
    body = response.json()
    assert "id" not in body  # none was given
    assert len(body["outputs"]) == 6  # every output of the model
    probs = next(o for o in body["outputs"] if o["name"] == "grade_probs")
    assert probs["shape"] == [2, 5]
    assert np.array_equal(np.asarray(probs["data"], np.float32), expected["grade_probs"].ravel())


def _infer(http: httpx.Client, inputs: list[dict[str, Any]], **extra: Any) -> httpx.Response:
    return http.post("/v2/models/tiny/infer", json={"inputs": inputs, **extra})


def _image(**fields: Any) -> dict[str, Any]:
    shape = fields.pop("shape", [1, 3, 64, 64])
    n = int(np.prod(shape))
    return {"name": "image", "shape": shape, "datatype": "FP32", "data": [0.0] * n} | fields


@pytest.mark.parametrize(
    ("inputs", "extra", "message"),
    [
        ([_image(name="img")], {}, "unexpected inference input 'img'"),
        ([_image(shape=[1, 3, 32, 32])], {}, "input 'image': shape [1, 3, 32, 32] not accepted"),
        ([_image(datatype="FP64")], {}, "input 'image': wrong datatype"),
        ([_image()], {"outputs": [{"name": "nope"}]}, "unexpected inference output 'nope'"),
        ([_image(data=[0.0])], {}, "tensor 'image': 1 values for shape [1, 3, 64, 64]"),
    ],
)
def test_bad_requests_get_400_with_an_error_body(
    http: httpx.Client, inputs: list[dict[str, Any]], extra: dict[str, Any], message: str
) -> None:
    response = _infer(http, inputs, **extra)
    assert response.status_code == 400
    assert response.json() == {"error": message}


def test_not_json_unknown_model_and_wrong_method(http: httpx.Client) -> None:
    bad = http.post("/v2/models/tiny/infer", content=b"{", headers={"Content-Type": "x"})
    assert (bad.status_code, bad.json()) == (400, {"error": "body is not JSON"})
    unknown = http.get("/v2/models/other")
    assert unknown.status_code == 404 and "error" in unknown.json()
    assert http.get("/v2/models/tiny/versions/9/ready").status_code == 404
    wrong = http.get("/v2/models/tiny/infer")
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST"
    assert http.get("/v3").status_code == 404


def test_an_unloaded_model_answers_503(server: LocalKServeV2Server, http: httpx.Client) -> None:
    server.set_ready(False)
    try:
        assert http.get("/v2/health/ready").status_code == 503
        assert http.get("/v2/models/tiny/ready").status_code == 503
        response = _infer(http, [_image()])
        assert response.status_code == 503 and response.json()["error"] == (
            "model tiny is not ready"
        )
        assert http.get("/v2/health/live").status_code == 200
    finally:
        server.set_ready(True)
    assert _infer(http, [_image()]).status_code == 200


@pytest.mark.slow
def test_runs_as_a_separate_process(tiny_grader_bundle: Path) -> None:
    with LocalKServeV2Process(tiny_grader_bundle, name="dr-grader", threads=1) as proc:
        assert proc.url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=proc.url, timeout=10) as client:
            assert client.get("/v2/models/dr-grader/ready").status_code == 200
            body, headers = encode_request(
                {"image": BATCH}, ["referable_prob"], request_id="p", binary=True
            )
            response = client.post("/v2/models/dr-grader/infer", content=body, headers=headers)
            _, tensors = decode_response(response.content, response.headers[HEADER_LENGTH])
            assert tensors["referable_prob"].shape == (2,)


@pytest.mark.slow
def test_separate_process_reports_a_bad_bundle(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="did not start: .*no metadata.json"):
        LocalKServeV2Process(tmp_path).start()
