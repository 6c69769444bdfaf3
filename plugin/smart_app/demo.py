"""Run the review app as an EHR would see it, on loopback: the app (create_app under a
threaded WSGI server) and the test EHR (authlib authorization server + scope-checking FHIR
proxy) in front of a FHIR server that is already running. Used by `make demo` (through the
demo command) and by the browser tests.

    with serve_demo_ui(fhir_base_url) as ui:
        print(ui.ehr_home_url)        # the EHR's patient list with launch buttons
        ...                           # until Ctrl-C

Not for production: the EHR is a test double, the session keys are made up per run, and
everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from plugin.app import create_app
from plugin.config import Settings
from plugin.imaging.config import ImagingSettings
from plugin.local_servers.test_ehr import LocalTestEhr, RegisteredClient, TestEhrSettings
from plugin.services import Services, build_services
from plugin.smart_app.runtime import GRADER_EXTENSION_KEY, LAUNCH_PATH, RECOMMENDED_SCOPES
from smart_launch import SessionCipher

CLIENT_ID = "deepdr-fhir"
APP_NAME = "DeepDR screening review"
# Headless Debian Chromium for driving the demo UI (browser tests, docs screenshots): no
# sandbox (root in CI), no GPU, and nothing that phones home (tests reach loopback only).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
WsgiApp = Any


class _Quiet(WSGIRequestHandler):
    """No access log: request lines carry codes, states and patient ids."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class _LateApp:
    """Lets the server bind (and learn its port) before the app, which needs its own
    public URL, exists."""

    def __init__(self) -> None:
        self.app: WsgiApp | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"starting"]
        return self.app(environ, start_response)


@dataclass(frozen=True)
class DemoUi:
    app_base_url: str
    ehr: LocalTestEhr
    services: Services

    @property
    def ehr_home_url(self) -> str:
        return self.ehr.base_url + "/"

    @property
    def iss(self) -> str:
        return self.ehr.fhir_base_url

    def launch_url(self, patient: str, **extra: str) -> str:
        """What clicking the app's button for `patient` on the EHR home page opens."""
        return self.ehr.launch_url(CLIENT_ID, patient, **extra)


def demo_settings(
    app_base_url: str,
    ehr: LocalTestEhr,
    store_url: str,
    scopes: Sequence[str] = RECOMMENDED_SCOPES,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "server": {
            "public_base_url": app_base_url,
            "frame_ancestors": ["'self'", ehr.base_url],
        },
        "store": {"url": store_url},
        "jobs": {"worker_threads": 2, "poll_interval_s": 0.2},
        "smart": {
            "client_id": CLIENT_ID,
            "scopes": list(scopes),
            "allowed_issuers": [ehr.fhir_base_url],
            "session_keys": [SessionCipher.generate_key()],
        },
        "logging": {"format": "text"},
    }
    for section, values in (overrides or {}).items():
        data[section] = {**data.get(section, {}), **values}
    return data


@contextmanager
def serve_demo_ui(
    fhir_base_url: str,
    *,
    store_url: str | None = None,
    grader: object | None = None,
    token_lifetime_s: int = 3600,
    scopes: Sequence[str] = RECOMMENDED_SCOPES,
    settings: Mapping[str, Any] | None = None,
    imaging: ImagingSettings | None = None,
    deployment: Settings | None = None,
) -> Iterator[DemoUi]:
    """`grader`: a ready Grader (tests, or the demo's own); None: the configured/shipped
    bundle, or advice only when there is none. `settings`: extra config sections merged over
    the demo's. `imaging`: image-source settings as an object (e.g. the demo PACS's
    credentials, whose secrets a plain mapping could not carry). `deployment`: settings
    whose grader and advice sections the app uses (as the demo's own screenings do)."""
    with ExitStack() as stack:
        late = _LateApp()
        server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, late, threaded=True, request_handler=_Quiet
        )
        stack.callback(server.server_close)
        app_base = f"http://127.0.0.1:{server.server_port}"
        ehr = LocalTestEhr(
            TestEhrSettings(
                fhir_upstream=fhir_base_url,
                access_token_lifetime_s=token_lifetime_s,
                clients=(
                    RegisteredClient(
                        client_id=CLIENT_ID,
                        name=APP_NAME,
                        redirect_uris=(f"{app_base}/smart/callback",),
                        launch_uri=app_base + LAUNCH_PATH,
                    ),
                ),
            )
        )
        stack.enter_context(ehr)
        if store_url is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="deepdr-ui-")))
            store_url = f"sqlite:///{folder / 'app.sqlite3'}"
        data = demo_settings(app_base, ehr, store_url, scopes, settings)
        validated = _validated(data)
        if imaging is not None:
            validated = validated.model_copy(update={"imaging": imaging})
        if deployment is not None:
            update = {"grader": deployment.grader, "advice": deployment.advice}
            validated = validated.model_copy(update=update)
        services = build_services(validated)
        stack.callback(services.close, 5.0)
        if grader is not None:
            services.extensions[GRADER_EXTENSION_KEY] = grader
        late.app = create_app(services=services)
        thread = threading.Thread(target=server.serve_forever, name="deepdr-ui", daemon=True)
        thread.start()
        stack.callback(thread.join, 10)
        stack.callback(server.shutdown)
        yield DemoUi(app_base, ehr, services)


def _validated(data: Mapping[str, Any]) -> Any:
    from plugin.config_loader import settings_from_mapping

    return settings_from_mapping(data, source="demo")


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m plugin.smart_app.demo`: the bundled FHIR server with the demo patients
    (photographs as attachments), the test EHR and the app, until Ctrl-C."""
    import argparse
    from datetime import date

    from plugin.demo.generate import DEFAULT_SEED, generate_demo
    from plugin.demo.photos import PhotoLibrary
    from plugin.demo.run import load_patient
    from plugin.fhir import HttpFhirGateway
    from plugin.local_servers.fhir_server import LocalFhirServer

    parser = argparse.ArgumentParser(prog="python -m plugin.smart_app.demo")
    parser.add_argument("--no-photos", action="store_true", help="attach no photographs")
    args = parser.parse_args(argv)
    library = None if args.no_photos else PhotoLibrary.open()
    with LocalFhirServer() as fhir, HttpFhirGateway(fhir.base_url, timeout_s=60) as gw:
        for patient in generate_demo(DEFAULT_SEED, date.today(), library):
            load_patient(gw, patient)
        with serve_demo_ui(fhir.base_url) as ui:
            print(f"Open the test EHR: {ui.ehr_home_url}")
            print("Press a patient's 'DeepDR screening review' button to launch the app.")
            print("Ctrl-C stops everything.")
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                pass
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
