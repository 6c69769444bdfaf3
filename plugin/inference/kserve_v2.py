"""A grader Runner on a remote inference server speaking the KServe v2 / Open Inference
Protocol over HTTP (Triton, KServe, Seldon MLServer, OpenVINO Model Server...).

    runner = KServeV2Runner("http://triton:8000", "deepdr-grader", timeout_s=10)
    runner.inputs, runner.outputs        # from GET /v2/models/{name}[/versions/{v}]
    runner.run({"image": batch}, ["grade_probs", ...])   # POST .../infer

At start it reads the server's metadata (GET /v2: its extensions) and the model's
metadata; a server or model that cannot be reached is an InferenceServerError (a
ModelUnavailable). Tensors go as binary data (Triton's binary tensor extension) when the
server lists `binary_tensor_data`, else as JSON; `binary=` forces either.

Inference is idempotent, so it is retried (with backoff) on connection failures and on
502/503/504; not on a read timeout: the server has the request and may be overloaded, and
waiting twice would spend the caller's budget (the CDS hook's, say). The bearer token is
sent as a header and never logged or put in a message.
"""

from __future__ import annotations

import time
import uuid
import weakref
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import numpy as np
from numpy.typing import NDArray

from models.grader.runner import TensorInfo
from plugin.inference.errors import InferenceProtocolError, InferenceServerError
from plugin.inference.v2_protocol import (
    BINARY_EXTENSION,
    FLOAT_DATATYPES,
    HEADER_LENGTH,
    ORT_TYPES,
    ErrorBody,
    ModelMetadata,
    ServerMetadata,
    V2FormatError,
    decode_response,
    encode_request,
    parse_json,
)

RETRY_STATUS = frozenset({502, 503, 504})
MAX_ERROR_CHARS = 200


def origin(url: str) -> str:
    """scheme://host[:port] of a URL: what messages may name (no credentials, no path)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


class KServeV2Runner:
    def __init__(
        self,
        url: str,
        model_name: str,
        *,
        model_version: str | None = None,
        timeout_s: float = 10.0,
        api_key: str | None = None,
        binary: bool | None = None,
        max_retries: int = 2,
        backoff_s: float = 0.2,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """Connects and reads the model's metadata; InferenceServerError when the server
        or the model cannot be reached, InferenceProtocolError when it does not speak v2.
        `api_key`: sent as `Authorization: Bearer ...`. `binary`: None picks by the
        server's extensions."""
        self.url = url.rstrip("/")
        self.model_name = model_name
        self.model_version = model_version
        self.max_retries = max(0, max_retries)
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self._origin = origin(self.url)
        self._model_path = f"/v2/models/{quote(model_name, safe='')}" + (
            f"/versions/{quote(model_version, safe='')}" if model_version else ""
        )
        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(
            base_url=self.url,
            timeout=httpx.Timeout(timeout_s),
            headers=headers,
            follow_redirects=False,
            transport=transport,
        )
        # Graders live as long as their process and have no close(): the pooled
        # connections are closed when the runner is collected, or by close().
        self._closer = weakref.finalize(self, self._http.close)
        try:
            self.server = self._server_metadata()
            self.metadata = self._model_metadata()
        except BaseException:
            self.close()
            raise
        self.binary = (BINARY_EXTENSION in self.server.extensions) if binary is None else binary
        self._inputs = tuple(_info(t) for t in self.metadata.inputs)
        self._outputs = tuple(_info(t) for t in self.metadata.outputs)
        self._output_types = {t.name: t.datatype for t in self.metadata.outputs}
        self._output_shapes = {t.name: t.shape for t in self.metadata.outputs}

    # --- Runner ---------------------------------------------------------------------------

    @property
    def provider(self) -> str:
        return f"kserve-v2 {self._origin} {self.model_name}"

    @property
    def inputs(self) -> Sequence[TensorInfo]:
        return self._inputs

    @property
    def outputs(self) -> Sequence[TensorInfo]:
        return self._outputs

    def run(
        self, inputs: Mapping[str, NDArray[np.float32]], output_names: Sequence[str]
    ) -> dict[str, NDArray[np.generic]]:
        request_id = uuid.uuid4().hex
        try:
            body, headers = encode_request(
                inputs, output_names, request_id=request_id, binary=self.binary
            )
        except V2FormatError as exc:
            raise InferenceProtocolError(f"cannot encode the request: {exc}") from None
        response = self._send("POST", f"{self._model_path}/infer", content=body, headers=headers)
        header_length = response.headers.get(HEADER_LENGTH)
        try:
            decoded, tensors = decode_response(response.content, header_length)
        except V2FormatError as exc:
            where = self._where()
            raise InferenceProtocolError(f"{where}: bad inference response: {exc}") from None
        if decoded.id is not None and decoded.id != request_id:
            raise InferenceProtocolError(f"{self._where()}: response is for another request")
        out: dict[str, NDArray[np.generic]] = {}
        for name in output_names:
            tensor = tensors.get(name)
            if tensor is None:
                raise InferenceProtocolError(f"{self._where()}: output {name!r} missing")
            if not _fits(self._output_shapes.get(name, ()), tensor.shape):
                raise InferenceProtocolError(
                    f"{self._where()}: output {name!r} has shape {list(tensor.shape)}, "
                    f"the model's metadata says {list(self._output_shapes.get(name, ()))}"
                )
            out[name] = tensor
        return out

    # --- health ---------------------------------------------------------------------------

    def live(self) -> bool:
        return self._probe("/v2/health/live")

    def ready(self) -> bool:
        return self._probe("/v2/health/ready")

    def model_ready(self) -> bool:
        return self._probe(f"{self._model_path}/ready")

    def non_float_outputs(self) -> list[str]:
        """Names of the model's outputs whose datatype is not a float type."""
        return [n for n, t in self._output_types.items() if t not in FLOAT_DATATYPES]

    def close(self) -> None:
        self._closer()

    def __enter__(self) -> KServeV2Runner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- internals ------------------------------------------------------------------------

    def _where(self) -> str:
        return f"inference server {self._origin}"

    def _server_metadata(self) -> ServerMetadata:
        # Optional in practice (some servers answer 404): no extensions known then.
        response = self._send("GET", "/v2", retry=True, ok_statuses=(200, 400, 404))
        if response.status_code != 200:
            return ServerMetadata()
        try:
            return parse_json(response.content, ServerMetadata)
        except V2FormatError:
            return ServerMetadata()

    def _model_metadata(self) -> ModelMetadata:
        response = self._send("GET", self._model_path, retry=True)
        try:
            meta = parse_json(response.content, ModelMetadata)
        except V2FormatError as exc:
            raise InferenceProtocolError(f"{self._where()}: bad model metadata: {exc}") from None
        if self.model_version and meta.versions and self.model_version not in meta.versions:
            raise InferenceProtocolError(
                f"{self._where()}: model {self.model_name} has no version {self.model_version}"
            )
        return meta

    def _probe(self, path: str) -> bool:
        try:
            return self._http.get(path).status_code == 200
        except httpx.HTTPError:
            return False

    def _send(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        retry: bool = True,
        ok_statuses: tuple[int, ...] = (200,),
    ) -> httpx.Response:
        last = "no attempt made"
        status: int | None = None
        for attempt in range(self.max_retries + 1 if retry else 1):
            if attempt:
                time.sleep(self.backoff_s * (2 ** (attempt - 1)))
            try:
                response = self._http.request(method, path, content=content, headers=headers)
            except httpx.ConnectTimeout:
                last, status = "connection timed out", None
                continue
            except httpx.TimeoutException:
                raise InferenceServerError(
                    f"{self._where()} did not answer within {self.timeout_s:g} s"
                ) from None
            except (httpx.ConnectError, httpx.RemoteProtocolError) as exc:
                last, status = f"unreachable ({type(exc).__name__})", None
                continue
            except httpx.HTTPError as exc:
                raise InferenceServerError(
                    f"{self._where()}: request failed ({type(exc).__name__})"
                ) from None
            if response.status_code in ok_statuses:
                return response
            status = response.status_code
            last = f"HTTP {status}{_reason(response)}"
            if status in RETRY_STATUS:
                continue
            raise InferenceServerError(
                f"{self._where()} refused model {self.model_name}: {last}", status=status
            )
        tries = self.max_retries + 1 if retry else 1
        raise InferenceServerError(
            f"{self._where()} unavailable for model {self.model_name} after {tries} "
            f"{'try' if tries == 1 else 'tries'}: {last}",
            status=status,
        )


def _reason(response: httpx.Response) -> str:
    """The server's {"error": ...} text, shortened and printable; empty if none."""
    try:
        text = parse_json(response.content, ErrorBody).error
    except V2FormatError:
        return ""
    text = "".join(c if c.isprintable() else " " for c in text)[:MAX_ERROR_CHARS]
    return f" ({text})" if text else ""


def _info(tensor: Any) -> TensorInfo:
    return TensorInfo(
        name=tensor.name,
        shape=tuple(None if d < 0 else d for d in tensor.shape),
        type=ORT_TYPES.get(tensor.datatype, f"v2({tensor.datatype})"),
    )


def _fits(declared: Sequence[int], actual: Sequence[int]) -> bool:
    """Same rank and every fixed (non -1) dimension equal."""
    if len(declared) != len(actual):
        return False
    return all(d < 0 or d == a for d, a in zip(declared, actual, strict=True))
