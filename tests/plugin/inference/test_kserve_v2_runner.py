"""The KServe v2 client runner against scripted HTTP answers (httpx.MockTransport): the
requests it sends (paths, bearer token, binary or JSON), retries on 503 and connection
failures but not on 400 or a read timeout, and answers it refuses."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest

from plugin.inference.errors import InferenceProtocolError, InferenceServerError
from plugin.inference.kserve_v2 import KServeV2Runner
from plugin.inference.v2_protocol import HEADER_LENGTH, decode_request, encode_response

URL = "http://triton.test:8000"
MODEL_META = {
    "name": "dr",
    "versions": ["3"],
    "platform": "onnxruntime_onnx",
    "inputs": [{"name": "image", "datatype": "FP32", "shape": [-1, 3, 8, 8]}],
    "outputs": [{"name": "probs", "datatype": "FP32", "shape": [-1, 5]}],
}
BATCH = np.ones((2, 3, 8, 8), np.float32)

Handler = Callable[[httpx.Request], httpx.Response]


class Scripted:
    """Answers metadata requests normally; infer requests from `infer` (a list of
    handlers, the last repeating). Records every request."""

    def __init__(self, infer: list[Handler], extensions: tuple[str, ...] = ("binary_tensor_data",)):
        self.infer = infer
        self.extensions = extensions
        self.requests: list[httpx.Request] = []
        self.infer_calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/v2":
            return httpx.Response(200, json={"name": "t", "extensions": list(self.extensions)})
        if path.endswith("/infer"):
            handler = self.infer[min(self.infer_calls, len(self.infer) - 1)]
            self.infer_calls += 1
            return handler(request)
        if path == "/v2/models/dr" or path.startswith("/v2/models/dr/versions/"):
            # Like servers that answer the model's metadata (all versions) on any version path.
            return httpx.Response(200, json=MODEL_META)
        return httpx.Response(404, json={"error": "not found"})


def answer(outputs: dict[str, np.ndarray] | None = None, same_id: bool = True) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        parsed, _ = decode_request(request.content, request.headers.get(HEADER_LENGTH))
        want_binary = bool(parsed.outputs and (parsed.outputs[0].parameters or {}))
        values = outputs or {"probs": np.full((2, 5), 0.2, np.float32)}
        body, headers = encode_response(
            model_name="dr",
            model_version="3",
            request_id=parsed.id if same_id else "someone-else",
            outputs=[(n, v, want_binary) for n, v in values.items()],
        )
        return httpx.Response(200, content=body, headers=headers)

    return handle


def status(code: int, error: str = "busy") -> Handler:
    return lambda request: httpx.Response(code, json={"error": error})


def refuse_connection(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


def read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("slow", request=request)


def runner(script: Scripted, **kwargs: Any) -> KServeV2Runner:
    kwargs.setdefault("backoff_s", 0.0)
    return KServeV2Runner(URL, "dr", transport=httpx.MockTransport(script), **kwargs)


def test_metadata_becomes_tensor_info_and_binary_is_used_when_offered() -> None:
    script = Scripted([answer()])
    r = runner(script, api_key="s3cret-token", model_version="3")
    assert [(t.name, t.shape, t.type) for t in r.inputs] == [
        ("image", (None, 3, 8, 8), "tensor(float)")
    ]
    assert r.binary and r.provider == "kserve-v2 http://triton.test:8000 dr"
    out = r.run({"image": BATCH}, ["probs"])
    assert out["probs"].shape == (2, 5) and np.allclose(out["probs"], 0.2)
    infer = script.requests[-1]
    assert infer.method == "POST" and infer.url.path == "/v2/models/dr/versions/3/infer"
    assert infer.headers["Authorization"] == "Bearer s3cret-token"
    assert infer.headers["Content-Type"] == "application/octet-stream"
    assert int(infer.headers[HEADER_LENGTH]) == len(infer.content) - BATCH.nbytes


def test_json_when_the_server_lists_no_binary_extension() -> None:
    script = Scripted([answer()], extensions=())
    r = runner(script)
    assert not r.binary
    r.run({"image": BATCH}, ["probs"])
    sent = json.loads(script.requests[-1].content)
    assert sent["inputs"][0]["datatype"] == "FP32" and len(sent["inputs"][0]["data"]) == 384
    assert sent["outputs"] == [{"name": "probs"}]


def test_503_and_connection_failures_are_retried() -> None:
    script = Scripted([status(503), refuse_connection, answer()])
    out = runner(script, max_retries=2).run({"image": BATCH}, ["probs"])
    assert out["probs"].shape == (2, 5) and script.infer_calls == 3


def test_gives_up_after_the_retries_with_a_clear_message() -> None:
    script = Scripted([status(503, "model dr is not ready")])
    with pytest.raises(InferenceServerError) as caught:
        runner(script, max_retries=1).run({"image": BATCH}, ["probs"])
    assert script.infer_calls == 2 and caught.value.status == 503
    assert str(caught.value) == (
        "inference server http://triton.test:8000 unavailable for model dr after 2 tries: "
        "HTTP 503 (model dr is not ready)"
    )


def test_a_refused_request_is_not_retried() -> None:
    script = Scripted([status(400, "unexpected inference input 'img'")])
    with pytest.raises(InferenceServerError, match="refused model dr: HTTP 400 .*'img'"):
        runner(script, max_retries=3).run({"image": BATCH}, ["probs"])
    assert script.infer_calls == 1


def test_a_read_timeout_is_not_retried() -> None:
    script = Scripted([read_timeout, answer()])
    with pytest.raises(InferenceServerError, match="did not answer within 0.5 s"):
        runner(script, max_retries=3, timeout_s=0.5).run({"image": BATCH}, ["probs"])
    assert script.infer_calls == 1


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        (answer(same_id=False), "another request"),
        (answer({"other": np.zeros((2, 5), np.float32)}), "output 'probs' missing"),
        (answer({"probs": np.zeros((2, 4), np.float32)}), r"shape \[2, 4\]"),
        (lambda r: httpx.Response(200, content=b"<html>"), "bad inference response"),
    ],
)
def test_answers_that_are_not_v2_are_refused(handler: Handler, message: str) -> None:
    with pytest.raises(InferenceProtocolError, match=message):
        runner(Scripted([handler])).run({"image": BATCH}, ["probs"])


def test_unknown_model_or_version_at_start() -> None:
    script = Scripted([answer()])
    with pytest.raises(InferenceServerError, match="refused model nope: HTTP 404"):
        KServeV2Runner(URL, "nope", transport=httpx.MockTransport(script))
    with pytest.raises(InferenceProtocolError, match="has no version 9"):
        runner(script, model_version="9")


def test_server_unreachable_at_start() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(InferenceServerError, match="unreachable .ConnectError"):
        KServeV2Runner(URL, "dr", transport=httpx.MockTransport(down), backoff_s=0.0)


def test_the_token_is_in_no_message_or_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    script = Scripted([status(500, "boom")])
    with pytest.raises(InferenceServerError) as caught:
        runner(script, api_key="s3cret-token").run({"image": BATCH}, ["probs"])
    assert "s3cret-token" not in str(caught.value)
    assert "s3cret-token" not in caplog.text
    assert "s3cret-token" not in repr(runner(script, api_key="s3cret-token").__dict__)
