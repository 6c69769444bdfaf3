"""Fixtures for the CDS Hooks tests: a tiny httpx FhirFetcher (what the plugin's gateway
does in production), a toy non-DR service ("blood pressure review"), and for integration
tests the toy served through the real blueprint under a real WSGI server on 127.0.0.1,
called by the local CDS Client, with the real FHIR server behind."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from flask import Flask
from werkzeug.serving import make_server

from cds_hooks import cards
from cds_hooks.blueprint import CorsPolicy, create_cds_blueprint
from cds_hooks.errors import FetchError
from cds_hooks.jwks import HttpJwksCache
from cds_hooks.models import CdsRequest, CdsResponse
from cds_hooks.prefetch import PrefetchData
from cds_hooks.security import CdsJwtVerifier, JwtPolicy, TrustedIssuer
from cds_hooks.service import CdsService, InMemoryFeedbackStore, ServiceBinding
from plugin.local_servers.cds_client import LocalCdsClient, PrefetchMode

BP_PANEL = "85354-9"  # LOINC blood pressure panel
SYSTOLIC = "8480-6"
DIASTOLIC = "8462-4"
ALLOWED_ORIGIN = "https://ehr.example.org"


class HttpxFhirFetcher:
    """A FhirFetcher over httpx for tests: follows next links, counts its GETs."""

    def __init__(self, max_pages: int = 10) -> None:
        self._http = httpx.Client(timeout=10, trust_env=False)
        self._max_pages = max_pages
        self.urls: list[str] = []
        self.tokens: list[str | None] = []
        self._lock = threading.Lock()

    def fetch(
        self, fhir_server: str, relative_url: str, access_token: str | None
    ) -> dict[str, Any] | None:
        with self._lock:
            self.urls.append(relative_url)
            self.tokens.append(access_token)
        headers = {"Accept": "application/fhir+json"}
        if access_token:
            headers["Authorization"] = f"Bearer {access_token}"
        try:
            r = self._http.get(f"{fhir_server}/{relative_url}", headers=headers)
            if r.status_code in (404, 410) and "?" not in relative_url:
                return None
            if r.status_code != 200:
                raise FetchError(f"HTTP {r.status_code}")
            document: dict[str, Any] = r.json()
            pages = 1
            url = _next(document)
            while url and pages < self._max_pages:
                page = self._http.get(url, headers=headers).json()
                document.setdefault("entry", []).extend(page.get("entry") or [])
                url, pages = _next(page), pages + 1
            document.pop("link", None)
            return document
        except httpx.HTTPError as exc:
            raise FetchError(type(exc).__name__) from None

    def close(self) -> None:
        self._http.close()


def _next(bundle: dict[str, Any]) -> str | None:
    return next((x["url"] for x in bundle.get("link") or [] if x.get("relation") == "next"), None)


BP_SERVICE = CdsService(
    id="bp-review",
    hook="patient-view",
    title="Blood pressure review (toy)",
    description="Counts blood pressure readings; suggests a measurement when there are none.",
    prefetch={
        "patient": "Patient/{{context.patientId}}",
        "bloodPressure": (
            f"Observation?patient=Patient/{{{{context.patientId}}}}"
            f"&code=http://loinc.org|{BP_PANEL}&_sort=-date&_count=2"
        ),
        "practitioner": "Practitioner/{{userPractitionerId}}",
    },
    usage_requirements="Toy service for tests; not clinical guidance.",
    required_prefetch=frozenset({"patient"}),
)


@dataclass
class BpReviewHandler:
    """The toy service logic; remembers what it was given so tests can look."""

    seen: list[PrefetchData] = field(default_factory=list)

    def handle(self, request: CdsRequest, data: PrefetchData) -> CdsResponse:
        self.seen.append(data)
        readings = data.resources("bloodPressure", "Observation")
        src = cards.source("Toy BP service", url="https://example.org/toy-bp")
        key = f"{request.context['patientId']}:{len(readings)}"
        if not readings:
            order = {
                "resourceType": "ServiceRequest",
                "status": "draft",
                "intent": "proposal",
                "subject": {"reference": f"Patient/{request.context['patientId']}"},
                "code": {"text": "Blood pressure measurement"},
            }
            return CdsResponse(
                cards=[
                    cards.card(
                        key,
                        "No blood pressure on file: measure it today",
                        "warning",
                        src,
                        suggestions=[
                            cards.suggestion(
                                key,
                                "Order a blood pressure measurement",
                                [cards.create_action("Create a measurement order", order)],
                                is_recommended=True,
                            )
                        ],
                        override_reasons=[
                            cards.coding("https://example.org/override", "done", "Measured today")
                        ],
                        links=[
                            cards.smart_link(
                                "Open the BP app", "https://example.org/launch", {"view": "bp"}
                            )
                        ],
                    )
                ]
            )
        latest = {
            c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"]
            for c in readings[0].get("component", [])
        }
        summary = f"{len(readings)} BP readings; latest {latest[SYSTOLIC]}/{latest[DIASTOLIC]} mmHg"
        return CdsResponse(cards=[cards.card(key, summary, "info", src)])


class FailingHandler:
    def handle(self, request: CdsRequest, data: PrefetchData) -> CdsResponse:
        raise RuntimeError("secret internal detail that must not reach the caller")


FAILING_SERVICE = CdsService(
    id="always-fails", hook="patient-view", description="A service whose handler crashes."
)
ORDER_SERVICE = CdsService(
    id="order-echo",
    hook="order-sign",
    description="Echoes the number of draft orders.",
)


class OrderEchoHandler:
    def handle(self, request: CdsRequest, data: PrefetchData) -> CdsResponse:
        n = len(request.context["draftOrders"].get("entry") or [])
        return CdsResponse(
            cards=[
                cards.card(request.hook_instance, f"{n} draft orders", "info", cards.source("Echo"))
            ]
        )


@dataclass
class CdsTestServer:
    base_url: str
    handler: BpReviewHandler
    fetcher: HttpxFhirFetcher
    feedback: InMemoryFeedbackStore
    jwks: HttpJwksCache
    bp_service: CdsService = BP_SERVICE
    allowed_origin: str = ALLOWED_ORIGIN


def _post_json(base: str, resource: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(f"{base}/{resource['resourceType']}", json=resource, timeout=10)
    r.raise_for_status()
    created: dict[str, Any] = r.json()
    return created


def bp_observation(patient_id: str, day: str, systolic: int, diastolic: int) -> dict[str, Any]:
    def component(code: str, value: int) -> dict[str, Any]:
        return {
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "valueQuantity": {
                "value": value,
                "unit": "mm[Hg]",
                "system": "http://unitsofmeasure.org",
                "code": "mm[Hg]",
            },
        }

    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": BP_PANEL}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": day,
        "component": [component(SYSTOLIC, systolic), component(DIASTOLIC, diastolic)],
    }


@dataclass(frozen=True)
class SeededPatients:
    with_bp: str  # three readings, latest 2024-03-01 at 141/92
    without_bp: str
    practitioner: str


@pytest.fixture(scope="session")
def seeded(fhir_base_url: str) -> SeededPatients:
    tag = uuid.uuid4().hex[:8]
    with_bp = _post_json(
        fhir_base_url, {"resourceType": "Patient", "name": [{"family": f"Bp{tag}"}]}
    )["id"]
    without = _post_json(
        fhir_base_url, {"resourceType": "Patient", "name": [{"family": f"NoBp{tag}"}]}
    )["id"]
    practitioner = _post_json(
        fhir_base_url, {"resourceType": "Practitioner", "name": [{"family": f"Dr{tag}"}]}
    )["id"]
    for day, sys_, dia in (
        ("2024-01-01", 128, 84),
        ("2024-02-01", 135, 88),
        ("2024-03-01", 141, 92),
    ):
        _post_json(fhir_base_url, bp_observation(with_bp, day, sys_, dia))
    return SeededPatients(with_bp=with_bp, without_bp=without, practitioner=practitioner)


@pytest.fixture(scope="session")
def cds_client() -> Iterator[LocalCdsClient]:
    with LocalCdsClient() as client:
        yield client


@pytest.fixture(scope="session")
def cds_server(cds_client: LocalCdsClient) -> Iterator[CdsTestServer]:
    """The toy services behind the real blueprint, three ways: /cds-services (auth on
    discovery), /open/cds-services (discovery without auth), /proxied/cds-services
    (behind a pretend proxy: public base URL https://cds.example.org/deepdr)."""
    handler = BpReviewHandler()
    fetcher = HttpxFhirFetcher()
    feedback = InMemoryFeedbackStore()
    # No refresh rate limit here, so the key-rotation test can refresh at once.
    jwks = HttpJwksCache(min_refresh_interval_s=0.0)
    verifier = CdsJwtVerifier(
        JwtPolicy(
            issuers=(
                TrustedIssuer(
                    iss=cds_client.issuer,
                    jwks_url=cds_client.jwks_url,
                    allowed_jku=frozenset({cds_client.jwks_url}),
                ),
            )
        ),
        jwks_source=jwks,
    )
    bindings = [
        ServiceBinding(BP_SERVICE, handler),
        ServiceBinding(FAILING_SERVICE, FailingHandler()),
        ServiceBinding(ORDER_SERVICE, OrderEchoHandler()),
    ]
    app = Flask(__name__)
    common: dict[str, Any] = {
        "feedback_store": feedback,
        "verifier": verifier,
        "fetcher": fetcher,
        "cors": CorsPolicy(allowed_origins=frozenset({ALLOWED_ORIGIN})),
    }
    app.register_blueprint(create_cds_blueprint(bindings, **common))
    app.register_blueprint(
        create_cds_blueprint(bindings, require_auth_for_discovery=False, name="open", **common),
        url_prefix="/open",
    )
    app.register_blueprint(
        create_cds_blueprint(
            bindings, public_base_url="https://cds.example.org/deepdr", name="proxied", **common
        ),
        url_prefix="/proxied",
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    cds_client.cds_base_url = base
    try:
        yield CdsTestServer(base, handler, fetcher, feedback, jwks)
    finally:
        server.shutdown()
        server.server_close()
        fetcher.close()
        jwks.close()


ACCESS_TOKEN = "opaque-fhir-access-token"


@dataclass(frozen=True)
class BodyMaker:
    """Builds patient-view requests for the toy service as the local CDS Client would."""

    client: LocalCdsClient
    seeded: SeededPatients
    fhir_base_url: str
    access_token: str = ACCESS_TOKEN

    def context(self, patient: str) -> dict[str, Any]:
        return {"userId": f"Practitioner/{self.seeded.practitioner}", "patientId": patient}

    def __call__(
        self,
        patient: str,
        mode: PrefetchMode | dict[str, PrefetchMode],
        *,
        with_fhir_access: bool = True,
    ) -> dict[str, Any]:
        context = self.context(patient)
        prefetch = self.client.build_prefetch(
            BP_SERVICE.prefetch,
            context,
            mode,
            fhir_server=self.fhir_base_url,
            access_token=self.access_token,
        )
        return self.client.hook_request(
            "patient-view",
            context,
            fhir_server=self.fhir_base_url if with_fhir_access else None,
            access_token=self.access_token if with_fhir_access else None,
            prefetch=prefetch,
        )


@pytest.fixture
def make_body(
    cds_server: CdsTestServer,
    cds_client: LocalCdsClient,
    seeded: SeededPatients,
    fhir_base_url: str,
) -> BodyMaker:
    return BodyMaker(cds_client, seeded, fhir_base_url)
