"""Over real HTTP: error answers (404, 400, 405, 415, 500) as short JSON reasons, the
order-sign hook, feedback (validated, stored once however often it is sent), and CORS."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest

from plugin.local_servers.cds_client import JwtFlaw, LocalCdsClient, PrefetchMode

if TYPE_CHECKING:  # test modules cannot import conftest at run time (importlib mode)
    from tests.cds_hooks.conftest import BodyMaker, CdsTestServer, SeededPatients

pytestmark = pytest.mark.integration


def _reason(response: Any) -> str:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    text: str = body["issue"][0]["details"]["text"]
    return text


def _view(patient: str = "1") -> dict[str, Any]:
    return {"userId": "Practitioner/1", "patientId": patient}


def test_unknown_service_is_404(cds_server: CdsTestServer, cds_client: LocalCdsClient) -> None:
    r = cds_client.call("no-such-service", cds_client.hook_request("patient-view", _view()))
    assert r.status_code == 404
    assert _reason(r) == "no such CDS Service"


def _auth() -> dict[str, Any]:
    return {
        "access_token": "t",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "s",
        "subject": "c",
    }


def _hook(**fields: Any) -> dict[str, Any]:
    return {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), **fields}


@pytest.mark.parametrize(
    ("body", "reason_part"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "JSON object"),
        ({"hookInstance": str(uuid.uuid4()), "context": _view()}, "hook: Field required"),
        ({**_hook(context=_view()), "hookInstance": "nope"}, "must be a UUID"),
        (_hook(context=_view(), fhirAuthorization=_auth()), "fhirServer is required"),
        (_hook(context=_view(), fhirServer="ftp://x"), "absolute http(s) URL"),
        (_hook(context={}), "context.patientId is required"),
        (_hook(context=_view("1&x=y")), "context.patientId is not a valid FHIR id"),
        (_hook(context={"userId": "Device/1", "patientId": "1"}), "context.userId"),
        ({**_hook(context=_view()), "hook": "order-sign"}, "not invoked on the order-sign hook"),
        (_hook(context=_view(), prefetch={"patient": "Patient/1"}), "prefetch.patient"),
        (_hook(context=_view(), prefetch={"patient": {"id": "1"}}), "neither a FHIR resource"),
        (_hook(context=_view(), prefetch=[]), "prefetch"),
    ],
)
def test_malformed_bodies_are_400_with_a_short_reason(
    cds_server: CdsTestServer,
    cds_client: LocalCdsClient,
    body: dict[str, Any] | bytes,
    reason_part: str,
) -> None:
    r = cds_client.call("bp-review", body)
    assert r.status_code == 400
    reason = _reason(r)
    assert reason_part in reason
    assert "Traceback" not in r.text and len(reason) < 300


def test_non_json_content_type_is_415(
    cds_server: CdsTestServer, cds_client: LocalCdsClient
) -> None:
    r = cds_client.call("bp-review", b"hook=patient-view", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415


def test_a_crashing_handler_is_500_without_details(
    cds_server: CdsTestServer, cds_client: LocalCdsClient
) -> None:
    r = cds_client.call("always-fails", cds_client.hook_request("patient-view", _view()))
    assert r.status_code == 500
    assert _reason(r) == "internal error in the CDS service"
    assert "secret" not in r.text and "Traceback" not in r.text


def test_get_on_a_service_is_405_json(
    cds_server: CdsTestServer, cds_client: LocalCdsClient
) -> None:
    r = cds_client.http.get(cds_client.url("/cds-services/bp-review"))
    assert r.status_code == 405
    assert r.headers["Allow"] == "POST"
    assert r.json()["resourceType"] == "OperationOutcome"


def test_order_sign_hook_with_draft_orders(
    cds_server: CdsTestServer, cds_client: LocalCdsClient
) -> None:
    orders = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "ServiceRequest", "status": "draft"}}],
    }
    context = {"userId": "PractitionerRole/1", "patientId": "1", "draftOrders": orders}
    r = cds_client.call("order-echo", cds_client.hook_request("order-sign", context))
    assert r.status_code == 200, r.text
    assert r.json()["cards"][0]["summary"] == "1 draft orders"
    missing = cds_client.hook_request("order-sign", _view())
    r = cds_client.call("order-echo", missing)
    assert r.status_code == 400 and "context.draftOrders is required" in _reason(r)


# ---------------------------------------------------------------------------- feedback


def _feedback_item(card: str, outcome: str, timestamp: str) -> dict[str, Any]:
    item: dict[str, Any] = {"card": card, "outcome": outcome, "outcomeTimestamp": timestamp}
    if outcome == "accepted":
        item["acceptedSuggestions"] = [{"id": str(uuid.uuid4())}]
    else:
        item["overrideReason"] = {
            "reason": {"system": "https://example.org/override", "code": "done"},
            "userComment": "free text",
        }
    return item


def test_feedback_is_stored_once_however_often_it_is_sent(
    cds_server: CdsTestServer, cds_client: LocalCdsClient
) -> None:
    card = str(uuid.uuid4())
    first = _feedback_item(card, "overridden", "2024-05-01T10:00:00Z")
    same_instant = {**first, "outcomeTimestamp": "2024-05-01T12:00:00+02:00"}
    r1 = cds_client.feedback("bp-review", {"feedback": [first]})
    r2 = cds_client.feedback("bp-review", {"feedback": [first, same_instant]})
    assert (r1.status_code, r2.status_code) == (200, 200)
    assert r1.json() == {"received": 1, "stored": 1}
    assert r2.json() == {"received": 2, "stored": 0}
    later = _feedback_item(card, "overridden", "2024-05-01T10:05:00Z")
    assert cds_client.feedback("bp-review", {"feedback": [later]}).json()["stored"] == 1
    accepted = _feedback_item(card, "accepted", "2024-05-01T10:05:00Z")
    assert cds_client.feedback("bp-review", {"feedback": [accepted]}).json()["stored"] == 1
    stored = [f for f in cds_server.feedback.all() if f.card == card]
    assert len(stored) == 3
    assert {f.issuer for f in stored} == {cds_client.issuer}


@pytest.mark.parametrize(
    "item",
    [
        None,
        {"card": "c", "outcome": "accepted", "outcomeTimestamp": "2024-05-01T10:00:00Z"},
        {"card": "c", "outcome": "maybe", "outcomeTimestamp": "2024-05-01T10:00:00Z"},
        {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2024-05-01T10:00:00"},
        {"outcome": "overridden", "outcomeTimestamp": "2024-05-01T10:00:00Z"},
    ],
)
def test_invalid_feedback_is_400_and_stores_nothing(
    cds_server: CdsTestServer, cds_client: LocalCdsClient, item: dict[str, Any] | None
) -> None:
    before = len(cds_server.feedback.all())
    good = _feedback_item(str(uuid.uuid4()), "overridden", "2024-05-01T10:00:00Z")
    body = {"feedback": [good, item] if item else []}
    r = cds_client.feedback("bp-review", body)
    assert r.status_code == 400
    assert len(cds_server.feedback.all()) == before  # the good item is not stored either


def test_feedback_needs_auth_and_a_known_service(
    cds_server: CdsTestServer, cds_client: LocalCdsClient
) -> None:
    body = {"feedback": [_feedback_item(str(uuid.uuid4()), "accepted", "2024-05-01T10:00:00Z")]}
    assert cds_client.feedback("bp-review", body, authenticate=False).status_code == 401
    assert cds_client.feedback("bp-review", body, flaw=JwtFlaw.WRONG_AUD).status_code == 401
    assert cds_client.feedback("nope", body).status_code == 404
    assert cds_client.feedback("bp-review", body).status_code == 200


# ---------------------------------------------------------------------------- CORS


def test_cors_preflight_needs_no_auth_and_allows_the_configured_origin(
    cds_server: CdsTestServer, cds_client: LocalCdsClient
) -> None:
    http = cds_client.http
    preflight = {
        "Origin": cds_server.allowed_origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    for path in ("/cds-services", "/cds-services/bp-review", "/cds-services/bp-review/feedback"):
        r = http.options(cds_client.url(path), headers=preflight)
        assert r.status_code == 204, path
        assert r.headers["Access-Control-Allow-Origin"] == cds_server.allowed_origin
        assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
        assert "Content-Type" in r.headers["Access-Control-Allow-Headers"]
    other = http.options(
        cds_client.url("/cds-services/bp-review"),
        headers={**preflight, "Origin": "https://evil.example"},
    )
    assert "Access-Control-Allow-Origin" not in other.headers


def test_cors_headers_on_answers_including_errors(
    cds_server: CdsTestServer,
    cds_client: LocalCdsClient,
    seeded: SeededPatients,
    make_body: BodyMaker,
) -> None:
    origin = {"Origin": cds_server.allowed_origin}
    body = make_body(seeded.with_bp, PrefetchMode.PRESENT)
    ok = cds_client.call("bp-review", body, headers=origin)
    assert ok.status_code == 200, ok.text
    assert ok.headers["Access-Control-Allow-Origin"] == cds_server.allowed_origin
    denied = cds_client.call("bp-review", body, authenticate=False, headers=origin)
    assert denied.status_code == 401
    assert denied.headers["Access-Control-Allow-Origin"] == cds_server.allowed_origin
    assert "WWW-Authenticate" in denied.headers["Access-Control-Expose-Headers"]
    foreign = cds_client.call("bp-review", body, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in foreign.headers
