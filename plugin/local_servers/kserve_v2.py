"""A small KServe v2 / Open Inference Protocol server over onnxruntime, on 127.0.0.1: it
serves one model (a bundle's model.onnx, or any grader Runner) the way Triton would, for
tests, the benchmark and the demo. Not for production (use Triton or KServe there).

    with LocalKServeV2Server.for_bundle(bundle_dir) as server:
        server.url                       # http://127.0.0.1:PORT
    python -m plugin.local_servers.kserve_v2 BUNDLE_DIR [--port N] [--name NAME]

Endpoints (HTTP/1.1, keep-alive): GET /v2 (server metadata, extension
`binary_tensor_data`), /v2/health/live, /v2/health/ready, /v2/models/{name}[/versions/{v}]
(model metadata), .../ready; POST .../infer with JSON or binary tensors. Errors are
{"error": "..."} with 400 (bad request), 404 (unknown model or path), 405, 413 or 503 (the
model is not ready, as after `set_ready(False)`: Triton's model unload).
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote

import numpy as np

from models.grader.bundle import read_metadata
from models.grader.errors import GraderError
from models.grader.runner import OnnxRunner, Runner
from plugin.inference.v2_protocol import (
    BINARY_EXTENSION,
    DATATYPES,
    HEADER_LENGTH,
    JSON_TYPE,
    ORT_TYPES,
    V2FormatError,
    decode_request,
    encode_response,
    error_body,
    wants_binary,
)

SERVER_NAME = "deepdr-local-kserve-v2"
SERVER_VERSION = "1"
PLATFORM = "onnxruntime_onnx"  # Triton's platform name for ONNX models
MAX_BODY_BYTES = 256 * 1024 * 1024
_MODEL_PATH = re.compile(r"^/v2/models/([^/]+)(?:/versions/([^/]+))?(/ready|/infer)?$")
_DATATYPE_OF_ORT = {v: k for k, v in ORT_TYPES.items()}


class HttpProblem(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class LocalKServeV2Server:
    """One model under one name and version, served from a thread."""

    def __init__(
        self,
        runner: Runner,
        name: str,
        version: str = "1",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.runner = runner
        self.name = name
        self.version = version
        self._host = host
        self._port = port
        self._ready = threading.Event()
        self._ready.set()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._count_lock = threading.Lock()
        self.requests: int = 0  # inference requests received (any outcome)

    @classmethod
    def for_bundle(
        cls,
        bundle: Path,
        *,
        name: str | None = None,
        threads: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> LocalKServeV2Server:
        """The bundle's model.onnx under the bundle's name (or `name`) and version."""
        meta = read_metadata(bundle)
        runner = OnnxRunner(bundle / meta.model_file, threads=threads, label=bundle.name)
        return cls(runner, name or meta.name, meta.version, host=host, port=port)

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("server not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        self._httpd = ThreadingHTTPServer((self._host, self._port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="kserve-v2", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LocalKServeV2Server:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def set_ready(self, ready: bool) -> None:
        """Load (True) or unload (False) the model, as Triton's model control does."""
        if ready:
            self._ready.set()
        else:
            self._ready.clear()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def count_request(self) -> None:
        with self._count_lock:
            self.requests += 1

    # --- protocol -------------------------------------------------------------------------

    def server_metadata(self) -> dict[str, Any]:
        return {"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": [BINARY_EXTENSION]}

    def model_metadata(self) -> dict[str, Any]:
        def tensor(t: Any) -> dict[str, Any]:
            return {
                "name": t.name,
                "datatype": _DATATYPE_OF_ORT.get(t.type, "BYTES"),
                "shape": [d if isinstance(d, int) and d >= 0 else -1 for d in t.shape],
            }

        return {
            "name": self.name,
            "versions": [self.version],
            "platform": PLATFORM,
            "inputs": [tensor(t) for t in self.runner.inputs],
            "outputs": [tensor(t) for t in self.runner.outputs],
        }

    def infer(self, body: bytes, header_length: str | None) -> tuple[bytes, dict[str, str]]:
        if not self.ready:
            raise HttpProblem(503, f"model {self.name} is not ready")
        try:
            request, tensors = decode_request(body, header_length)
        except V2FormatError as exc:
            raise HttpProblem(400, str(exc)) from None
        inputs = self._check_inputs(tensors)
        known = [t.name for t in self.runner.outputs]
        asked = list(request.outputs) if request.outputs is not None else []
        names = [o.name for o in asked] or known
        unknown = [n for n in names if n not in known]
        if unknown:
            raise HttpProblem(400, f"unexpected inference output {unknown[0]!r}")
        try:
            values = self.runner.run(inputs, names)
        except GraderError as exc:
            raise HttpProblem(400, f"inference failed: {exc}") from None
        outputs = [
            (n, values[n], wants_binary(request, asked[i] if asked else None))
            for i, n in enumerate(names)
        ]
        try:
            return encode_response(
                model_name=self.name,
                model_version=self.version,
                request_id=request.id,
                outputs=outputs,
            )
        except V2FormatError as exc:
            raise HttpProblem(400, str(exc)) from None

    def _check_inputs(self, tensors: dict[str, Any]) -> dict[str, Any]:
        expected = {t.name: t for t in self.runner.inputs}
        for name in tensors:
            if name not in expected:
                raise HttpProblem(400, f"unexpected inference input {name!r}")
        for name, spec in expected.items():
            if name not in tensors:
                raise HttpProblem(400, f"expected input {name!r} is missing")
            array = tensors[name]
            want = DATATYPES.get(_DATATYPE_OF_ORT.get(spec.type, ""))
            if want is None or array.dtype != want:
                raise HttpProblem(400, f"input {name!r}: wrong datatype")
            dims = spec.shape
            if len(dims) != array.ndim or any(
                isinstance(d, int) and d != a for d, a in zip(dims, array.shape, strict=True)
            ):
                raise HttpProblem(400, f"input {name!r}: shape {list(array.shape)} not accepted")
        return {n: np.ascontiguousarray(a) for n, a in tensors.items()}


def _handler_for(server: LocalKServeV2Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: every answer has a Content-Length
        # Headers and body are separate writes: with Nagle's algorithm the body waits for
        # the client's delayed ACK (~40 ms a response on Linux loopback).
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def _dispatch(self, method: str) -> None:
            try:
                body, headers = self._route(method, self.path.split("?", 1)[0])
                self._send(200, body, headers)
            except HttpProblem as problem:
                close = problem.status in (411, 413)
                body = error_body(problem.message)
                self._send(problem.status, body, problem.headers, close=close)

        def _route(self, method: str, path: str) -> tuple[bytes, dict[str, str]]:
            if path in ("/v2", "/v2/health/live", "/v2/health/ready"):
                self._only(method, "GET")
                if path == "/v2":
                    return _json(server.server_metadata())
                if path == "/v2/health/live":
                    return _json({"live": True})
                if not server.ready:
                    raise HttpProblem(503, "not ready")
                return _json({"ready": True})
            match = _MODEL_PATH.match(path)
            if match is None:
                raise HttpProblem(404, "not found")
            name, version, action = match.groups()
            name, version = unquote(name), unquote(version) if version else None
            if name != server.name or version not in (None, server.version):
                raise HttpProblem(404, "unknown model or version")
            if action == "/infer":
                self._only(method, "POST")
                server.count_request()
                return server.infer(self._body(), self.headers.get(HEADER_LENGTH))
            self._only(method, "GET")
            if action == "/ready":
                if not server.ready:
                    raise HttpProblem(503, f"model {server.name} is not ready")
                return _json({"name": server.name, "ready": True})
            return _json(server.model_metadata())

        def _only(self, method: str, allowed: str) -> None:
            if method != allowed:
                raise HttpProblem(405, f"use {allowed}", {"Allow": allowed})

        def _body(self) -> bytes:
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                raise HttpProblem(411, "Content-Length required")
            if int(length) > MAX_BODY_BYTES:
                raise HttpProblem(413, "request too large")
            return self.rfile.read(int(length))

        def _send(
            self, status: int, body: bytes, headers: dict[str, str], close: bool = False
        ) -> None:
            try:
                self.send_response(status)
                for key, value in ({"Content-Type": JSON_TYPE} | headers).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                if close:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (its timeout)

        def log_message(self, format: str, *args: object) -> None:
            return  # tensors are patient images: nothing of a request is logged

    return Handler


def _json(obj: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    return json.dumps(obj).encode(), {"Content-Type": JSON_TYPE}


# --- a separate process (the benchmark, the demo) -------------------------------------------


class LocalKServeV2Process:
    """The server in its own Python process: `with LocalKServeV2Process(bundle) as p: p.url`."""

    def __init__(self, bundle: Path, *, name: str | None = None, threads: int | None = None):
        self._cmd = [sys.executable, "-m", "plugin.local_servers.kserve_v2", str(bundle)]
        if name:
            self._cmd += ["--name", name]
        if threads:
            self._cmd += ["--threads", str(threads)]
        self._proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> str:
        self._proc = subprocess.Popen(
            self._cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        line = self._proc.stdout.readline() if self._proc.stdout else ""
        if not line.startswith("LISTENING "):
            err = self._proc.stderr.read() if self._proc.stderr else ""
            self.stop()
            raise RuntimeError(f"KServe v2 server did not start: {(line or err)[-300:]}")
        self.url = line.split(" ", 1)[1].strip()
        return self.url

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            for stream in (self._proc.stdout, self._proc.stderr):
                if stream is not None:
                    stream.close()
            self._proc = None

    def __enter__(self) -> LocalKServeV2Process:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("bundle", type=Path, help="grader bundle folder (model.onnx + metadata)")
    parser.add_argument("--name", help="model name (default: the bundle's)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime threads")
    args = parser.parse_args(argv)
    try:
        server = LocalKServeV2Server.for_bundle(
            args.bundle, name=args.name, threads=args.threads, host=args.host, port=args.port
        )
    except GraderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with server:
        print(f"LISTENING {server.url}", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
