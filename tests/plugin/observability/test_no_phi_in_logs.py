"""A run with known fake patient names, identifiers and tokens through the app and the real
FHIR server; the captured logs must hold the request ids and none of them.

Later issues extend the flow (CDS call, grading, write-back, sign-off); keep SENSITIVE
complete and the scan over everything logged.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from flask import Blueprint, Flask, request

from plugin.app import create_app, services_of
from plugin.config import LoggingSettings
from plugin.observability.logging import configure_logging, remove_logging_handler
from plugin.services import Services
from plugin.web.blueprints import BLUEPRINT_FACTORIES

pytestmark = pytest.mark.integration

NAME_GIVEN, NAME_FAMILY = "Zebedee", "Quartermain"
MRN = "MRN-55501234"
BIRTH_DATE = "1961-04-12"
ACCESS_TOKEN = (
    "eyJhbGciOiJSUzM4NCIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJQcmFjdGl0aW9uZXIvOTkifQ.c2lnbmF0dXJlLXNlY3JldA"
)
REFRESH_TOKEN = "rt-Secret-0f1e2d3c"
CLIENT_SECRET = "cs-Secret-9a8b7c"

log = logging.getLogger("deepdr.test.flow")


@pytest.fixture
def patient_id(fhir_base_url: str) -> str:
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:oid:1.2.3.4", "value": MRN}],
        "name": [{"given": [NAME_GIVEN], "family": NAME_FAMILY}],
        "birthDate": BIRTH_DATE,
    }
    response = httpx.post(
        f"{fhir_base_url}/Patient", json=patient, headers={"Content-Type": "application/fhir+json"}
    )
    response.raise_for_status()
    return str(response.json()["id"])


def flow_views(fhir_base_url: str) -> Callable[[Services], Blueprint]:
    """Views shaped like the product's: read the patient and their observations through an
    audited gateway with the user's token, log the way careless code would."""

    def factory(services: Services) -> Blueprint:
        bp = Blueprint("flow", __name__)

        @bp.get("/patients/<pid>/summary")
        def summary(pid: str) -> dict[str, object]:
            token = request.headers.get("Authorization", "").removeprefix("Bearer ")
            with services.fhir_gateway(fhir_base_url, lambda: token, "Practitioner/99") as gateway:
                patient = gateway.read("Patient", pid)
                found = gateway.search("Observation", {"patient": pid})
            log.debug("token in use: Authorization: Bearer %s", token)
            log.debug("searched %s/Observation?patient=%s&name=%s", fhir_base_url, pid, NAME_FAMILY)
            log.info("token response %s", {"access_token": token, "refresh_token": REFRESH_TOKEN})
            log.info("summary for Patient/%s ready", pid)
            return {"name": patient["name"][0]["family"], "observations": len(found.resources)}

        @bp.get("/patients/<pid>/crash")
        def crash(pid: str) -> dict[str, object]:
            raise RuntimeError(
                f"cannot handle {NAME_GIVEN} {NAME_FAMILY} ({MRN}) born {BIRTH_DATE}"
            )

        return bp

    return factory


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure_logging(LoggingSettings(level="DEBUG"), stream)
    yield stream
    remove_logging_handler(handler)


@pytest.fixture
def app(tmp_path: Path, fhir_base_url: str) -> Iterator[Flask]:
    app = create_app(
        {
            "store": {"url": f"sqlite:///{tmp_path}/phi.sqlite3"},
            "fhir": {"base_url": fhir_base_url, "auth": {"kind": "bearer", "token": ACCESS_TOKEN}},
            "smart": {"client_secret": CLIENT_SECRET},
        },
        blueprints=[*BLUEPRINT_FACTORIES, flow_views(fhir_base_url)],
    )
    yield app
    services_of(app).close()


def test_logs_of_a_run_hold_request_ids_and_no_phi_or_tokens(
    app: Flask, patient_id: str, captured_logs: io.StringIO
) -> None:
    client = app.test_client()
    auth = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
    query = f"?patient={patient_id}&name={NAME_FAMILY}&access_token={ACCESS_TOKEN}"
    ok = client.get(
        f"/patients/{patient_id}/summary{query}", headers={**auth, "X-Request-ID": "flow-1"}
    )
    assert ok.status_code == 200 and ok.get_json()["name"] == NAME_FAMILY
    crash = client.get(f"/patients/{patient_id}/crash", headers={**auth, "X-Request-ID": "flow-2"})
    assert crash.status_code == 500
    missing = client.get(f"/patients/{MRN}/nothing{query}", headers={"X-Request-ID": "flow-3"})
    assert missing.status_code == 404
    assert client.get("/readyz", headers={"X-Request-ID": "flow-4"}).status_code in (200, 503)

    logs = captured_logs.getvalue()
    for request_id in ("flow-1", "flow-2", "flow-3"):
        assert f'"request_id": "{request_id}"' in logs
    assert '"route": "/patients/<pid>/summary"' in logs
    assert '"exc_type": "RuntimeError"' in logs
    sensitive = {
        "given name": NAME_GIVEN,
        "family name": NAME_FAMILY,
        "MRN": MRN,
        "birth date": BIRTH_DATE,
        "patient id": patient_id,
        "access token": ACCESS_TOKEN,
        "token signature": ACCESS_TOKEN.rsplit(".", 1)[1],
        "refresh token": REFRESH_TOKEN,
        "client secret": CLIENT_SECRET,
    }
    leaked = [what for what, value in sensitive.items() if value in logs]
    assert leaked == [], f"logs leak: {leaked}"

    # The reads were audited (references only) under the request's id.
    entries = services_of(app).store.audit.for_request("flow-1")
    assert [(e.action, e.actor) for e in entries] == [
        ("read", "Practitioner/99"),
        ("search", "Practitioner/99"),
    ]
    assert entries[0].resource_refs == (f"Patient/{patient_id}",)
