"""Runs the test EHR under a real WSGI server (werkzeug, threaded) on a free loopback port.
Used by tests and the demo; never by production code paths."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import httpx
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from plugin.local_servers.test_ehr.app import create_test_ehr_app
from plugin.local_servers.test_ehr.config import TestEhrSettings


class TestEhrError(RuntimeError):
    __test__ = False


class _QuietHandler(WSGIRequestHandler):
    """No access log: request lines carry codes, states and patient ids."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class LocalTestEhr:
    """`with LocalTestEhr(settings) as ehr: ehr.fhir_base_url` -> "http://127.0.0.1:PORT/fhir".

    `base_url` is the EHR home page (patients + launch buttons); `fhir_base_url` is the `iss`
    apps are launched with."""

    def __init__(self, settings: TestEhrSettings) -> None:
        self.settings = settings
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._http: httpx.Client | None = None
        self.base_url = ""

    def start(self) -> str:
        self._http = httpx.Client(timeout=self.settings.upstream_timeout_s)
        if self.settings.seed_practitioner:
            self._seed_practitioner(self._http)
        app = create_test_ehr_app(self.settings, http=self._http)
        self._server = make_server(
            "127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler
        )
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="test-ehr", daemon=True
        )
        self._thread.start()
        return self.base_url

    def _seed_practitioner(self, http: httpx.Client) -> None:
        """The signed-in user (fhirUser) exists on the FHIR server, as in a real EHR."""
        pid = self.settings.practitioner_id
        given, _, family = self.settings.practitioner_name.rpartition(" ")
        name: dict[str, Any] = {"text": self.settings.practitioner_name, "family": family}
        if given:
            name["given"] = given.split()
        body = {"resourceType": "Practitioner", "id": pid, "active": True, "name": [name]}
        url = f"{self.settings.fhir_upstream.rstrip('/')}/Practitioner/{pid}"
        try:
            response = http.put(url, json=body, headers={"Content-Type": "application/fhir+json"})
        except httpx.HTTPError as exc:
            self.stop()
            raise TestEhrError(f"FHIR server unreachable at {url}") from exc
        if response.status_code not in (200, 201):
            self.stop()
            raise TestEhrError(f"could not create the EHR user (HTTP {response.status_code})")

    @property
    def fhir_base_url(self) -> str:
        return f"{self.base_url}/fhir"

    def launch_url(
        self, client_id: str, patient: str | None = None, encounter: str | None = None, **extra: str
    ) -> str:
        """The URL an EHR user would click to launch `client_id` for `patient`; `extra`:
        more launch parameters (`app_context`: a CDS card link's appContext, `intent`...)."""
        params = {"client_id": client_id, **extra}
        if patient:
            params["patient"] = patient
        if encounter:
            params["encounter"] = encounter
        return f"{self.base_url}/ehr/launch?{urlencode(params)}"

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> LocalTestEhr:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
