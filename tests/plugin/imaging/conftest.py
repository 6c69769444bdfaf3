"""Real servers for the image layer's integration tests: a private Orthanc (DICOMweb, basic
auth) on loopback, a bearer-token proxy in front of it, an endpoint that never answers, and a
the real FHIR gateway on the real FHIR server (fixture fhir_base_url)."""

from __future__ import annotations

import secrets
import socket
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from plugin.fhir import HttpFhirGateway
from plugin.local_servers.orthanc import LocalOrthanc

PACS_USER = "deepdr"


class FhirTestClient:
    """Test-data helper over the real FHIR gateway: `create` returns the created resource;
    read/search are the gateway's own (what the image layer is given in production)."""

    def __init__(self, gateway: HttpFhirGateway) -> None:
        self.gateway = gateway
        self.base_url = gateway.base_url

    def create(self, resource: dict[str, Any]) -> dict[str, Any]:
        return self.gateway.create(resource).resource

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        return self.gateway.read(resource_type, resource_id)

    def search(self, resource_type: str, params: Sequence[tuple[str, str]]) -> Any:
        return self.gateway.search(resource_type, params)


@pytest.fixture(scope="session")
def fhir_gateway(fhir_base_url: str) -> Iterator[HttpFhirGateway]:
    """The real FHIR gateway (plugin/fhir) against the real FHIR server."""
    with HttpFhirGateway(fhir_base_url) as gateway:
        yield gateway


@pytest.fixture(scope="session")
def fhir_client(fhir_gateway: HttpFhirGateway) -> FhirTestClient:
    return FhirTestClient(fhir_gateway)


@pytest.fixture(scope="session")
def pacs_password() -> str:
    return secrets.token_urlsafe(16)


@pytest.fixture(scope="session")
def orthanc(pacs_password: str) -> Iterator[LocalOrthanc]:
    """A private Orthanc with DICOMweb on a free loopback port; basic auth required."""
    with LocalOrthanc(users={PACS_USER: pacs_password}) as pacs:
        yield pacs


class _Proxy(ThreadingHTTPServer):
    daemon_threads = True
    upstream: str
    upstream_auth: tuple[str, str]
    token: str


class _BearerProxyHandler(BaseHTTPRequestHandler):
    """Requires `Authorization: Bearer <token>`; forwards GETs to Orthanc with basic auth."""

    server: _Proxy

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {self.server.token}":
            self.send_response(401)
            self.send_header("WWW-Authenticate", "Bearer")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        headers = {"Accept": self.headers.get("Accept", "*/*")}
        r = httpx.get(
            self.server.upstream + self.path,
            headers=headers,
            auth=self.server.upstream_auth,
            timeout=30,
        )
        self.send_response(r.status_code)
        for name in ("Content-Type",):
            if name in r.headers:
                self.send_header(name, r.headers[name])
        self.send_header("Content-Length", str(len(r.content)))
        self.end_headers()
        self.wfile.write(r.content)


@pytest.fixture(scope="session")
def bearer_pacs(orthanc: LocalOrthanc, pacs_password: str) -> Iterator[tuple[str, str]]:
    """(DICOMweb base URL behind a bearer-token proxy, the token it accepts)."""
    server = _Proxy(("127.0.0.1", 0), _BearerProxyHandler)
    server.upstream = orthanc.base_url
    server.upstream_auth = (PACS_USER, pacs_password)
    server.token = secrets.token_urlsafe(16)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/dicom-web", server.token
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def silent_endpoint() -> Iterator[str]:
    """A loopback port that accepts connections and never answers (for timeouts)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/dicom-web"
    sock.close()


class _Origin(ThreadingHTTPServer):
    daemon_threads = True
    files: dict[str, tuple[str, bytes]]
    token: str
    seen_authorization: list[str | None]


class _OriginHandler(BaseHTTPRequestHandler):
    server: _Origin

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen_authorization.append(self.headers.get("Authorization"))
        if self.headers.get("Authorization") != f"Bearer {self.server.token}":
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        found = self.server.files.get(self.path)
        if found is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        content_type, data = found
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class ImageOrigin:
    """Another origin serving image files behind its own bearer token; it records every
    Authorization header it receives, so tests can prove the FHIR token never got there."""

    def __init__(self, server: _Origin) -> None:
        self._server = server
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        self.token = server.token

    def add(self, path: str, data: bytes, content_type: str = "image/jpeg") -> str:
        self._server.files[path] = (content_type, data)
        return self.base_url + path

    @property
    def seen_authorization(self) -> list[str | None]:
        return self._server.seen_authorization


@pytest.fixture(scope="session")
def image_origin() -> Iterator[ImageOrigin]:
    server = _Origin(("127.0.0.1", 0), _OriginHandler)
    server.files = {}
    server.token = secrets.token_urlsafe(16)
    server.seen_authorization = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield ImageOrigin(server)
    server.shutdown()
    server.server_close()
