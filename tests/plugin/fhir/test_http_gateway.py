"""HttpFhirGateway against a fake transport (httpx.MockTransport): headers, token, retries,
error mapping, paging rules, transaction parsing. The real server is exercised in
test_gateway_integration.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from plugin.fhir import (
    FhirAuthError,
    FhirConflict,
    FhirInvalid,
    FhirNotFound,
    FhirProtocolError,
    FhirRequestError,
    FhirTimeout,
    FhirTransactionError,
    FhirUnavailable,
    HttpFhirGateway,
)

BASE = "https://ehr.example/fhir/R4"
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)


def gateway(handler: Handler, **kw: Any) -> tuple[HttpFhirGateway, Recorder, list[float]]:
    rec = Recorder(handler)
    sleeps: list[float] = []
    gw = HttpFhirGateway(BASE, transport=httpx.MockTransport(rec), sleep=sleeps.append, **kw)
    return gw, rec, sleeps


def fhir(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def outcome(text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "x", "details": {"text": text}}],
    }


def searchset(
    resources: list[dict[str, Any]], next_url: str | None = None, total: int | None = None
) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    if total is not None:
        bundle["total"] = total
    return bundle


def patient(pid: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid}


def test_read_sends_fhir_headers_and_fresh_token() -> None:
    tokens = iter(["t1", "t2"])
    gw, rec, _ = gateway(lambda r: fhir(200, patient("1")), token=lambda: next(tokens))
    assert gw.read("Patient", "1") == patient("1")
    gw.read("Patient", "1")
    first, second = rec.requests
    assert str(first.url) == f"{BASE}/Patient/1"
    assert first.headers["Accept"] == "application/fhir+json"
    assert first.headers["User-Agent"].startswith("deepdr-fhir/")
    assert first.headers["Authorization"] == "Bearer t1"
    assert second.headers["Authorization"] == "Bearer t2"  # the refreshed token is used


def test_no_token_no_authorization_header() -> None:
    gw, rec, _ = gateway(lambda r: fhir(200, patient("1")), token=lambda: None)
    gw.read("Patient", "1")
    assert "Authorization" not in rec.requests[0].headers


def test_malformed_token_is_refused_before_sending() -> None:
    gw, rec, _ = gateway(lambda r: fhir(200, patient("1")), token=lambda: "a b")
    with pytest.raises(FhirRequestError, match="token is malformed"):
        gw.read("Patient", "1")
    assert rec.requests == []


@pytest.mark.parametrize(
    ("rtype", "rid"),
    [("patient", "1"), ("Patient", "a/b"), ("Patient", ""), ("Patient", "x" * 65), ("../x", "1")],
)
def test_bad_type_or_id_never_reaches_the_server(rtype: str, rid: str) -> None:
    gw, rec, _ = gateway(lambda r: fhir(200, patient("1")))
    with pytest.raises(FhirRequestError):
        gw.read(rtype, rid)
    assert rec.requests == []


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, FhirInvalid),
        (422, FhirInvalid),
        (401, FhirAuthError),
        (403, FhirAuthError),
        (404, FhirNotFound),
        (410, FhirNotFound),
        (409, FhirConflict),
        (412, FhirConflict),
        (500, FhirUnavailable),
    ],
)
def test_errors_are_typed_with_status_and_outcome_text(status: int, error: type[Exception]) -> None:
    gw, _, _ = gateway(lambda r: fhir(status, outcome("Resource is bad")), max_retries=0)
    with pytest.raises(error) as info:
        gw.read("Patient", "1")
    assert info.value.status == status  # type: ignore[attr-defined]
    assert info.value.outcome_text == "Resource is bad"  # type: ignore[attr-defined]
    assert str(info.value) == f"FHIR read Patient failed (HTTP {status}): Resource is bad"


def test_error_without_outcome_and_outcome_text_is_cleaned() -> None:
    gw, _, _ = gateway(lambda r: httpx.Response(404, text="<html>nope</html>"))
    with pytest.raises(FhirNotFound) as info:
        gw.read("Patient", "1")
    assert info.value.outcome_text is None
    noisy = outcome("line1\nline2\x00" + "y" * 900)
    gw, _, _ = gateway(lambda r: fhir(400, noisy))
    with pytest.raises(FhirInvalid) as info2:
        gw.read("Patient", "1")
    text = info2.value.outcome_text or ""
    assert "\n" not in text and "\x00" not in text and len(text) <= 500


def test_reads_retry_on_503_and_429_honouring_retry_after() -> None:
    answers = iter(
        [
            fhir(503, outcome("busy")),
            fhir(429, outcome("slow down"), {"Retry-After": "7"}),
            fhir(200, patient("1")),
        ]
    )
    gw, rec, sleeps = gateway(lambda r: next(answers), max_retries=2, backoff_s=0.5)
    assert gw.read("Patient", "1")["id"] == "1"
    assert len(rec.requests) == 3
    assert sleeps == [0.5, 7.0]


def test_retry_after_is_capped_and_retries_are_bounded() -> None:
    gw, rec, sleeps = gateway(
        lambda r: fhir(503, outcome("down"), {"Retry-After": "3600"}), max_retries=2
    )
    with pytest.raises(FhirUnavailable, match="down"):
        gw.read("Patient", "1")
    assert len(rec.requests) == 3
    assert sleeps == [30.0, 30.0]


def test_writes_are_not_retried() -> None:
    gw, rec, sleeps = gateway(lambda r: fhir(503, outcome("busy")), max_retries=3)
    with pytest.raises(FhirUnavailable):
        gw.create({"resourceType": "Patient"})
    with pytest.raises(FhirUnavailable):
        gw.transaction({"resourceType": "Bundle", "type": "transaction", "entry": []})
    assert len(rec.requests) == 2 and sleeps == []


def test_connect_errors_are_retried_then_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    gw, rec, sleeps = gateway(refuse, max_retries=2, backoff_s=0.25)
    with pytest.raises(FhirUnavailable, match="cannot reach"):
        gw.read("Patient", "1")
    assert len(rec.requests) == 3 and sleeps == [0.25, 0.5]


def test_read_timeout_is_typed_and_not_retried() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    gw, rec, _ = gateway(slow, max_retries=2)
    with pytest.raises(FhirTimeout, match="no answer within the timeout"):
        gw.read("Patient", "1")
    assert len(rec.requests) == 1


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(200, text="not json"), "not JSON"),
        (httpx.Response(200, json=[1, 2]), "not a FHIR resource"),
        (fhir(200, {"resourceType": "Observation", "id": "1"}), "expected Patient"),
        (httpx.Response(200), "empty answer"),
    ],
)
def test_protocol_errors(response: httpx.Response, message: str) -> None:
    gw, _, _ = gateway(lambda r: response)
    with pytest.raises(FhirProtocolError, match=message):
        gw.read("Patient", "1")


def test_search_sends_repeated_params_and_follows_relative_and_absolute_next_links() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = request.url.params.get("page", "1")
        if page == "1":
            return fhir(200, searchset([patient("a")], "Patient?page=2&_count=1", total=3))
        if page == "2":
            return fhir(200, searchset([patient("b")], f"{BASE}/Patient?page=3", total=3))
        return fhir(200, searchset([patient("c")], total=3))

    gw, rec, _ = gateway(handler)
    result = gw.search("Patient", [("birthdate", "ge1950"), ("birthdate", "lt1960")])
    assert [r["id"] for r in result.resources] == ["a", "b", "c"]
    assert (result.total, result.pages, result.truncated) == (3, 3, False)
    assert rec.requests[0].url.params.get_list("birthdate") == ["ge1950", "lt1960"]
    assert str(rec.requests[1].url) == f"{BASE}/Patient?page=2&_count=1"


def test_search_page_cap_reports_truncation() -> None:
    counter = iter(range(100))
    gw, rec, _ = gateway(
        lambda r: fhir(
            200, searchset([patient(str(next(counter)))], f"{BASE}/Patient?p={len(rec.requests)}")
        )
    )
    result = gw.search("Patient", max_pages=3)
    assert len(result.resources) == 3 and result.truncated and result.pages == 3
    assert len(rec.requests) == 3


def test_search_stops_on_a_repeated_next_link() -> None:
    gw, rec, _ = gateway(lambda r: fhir(200, searchset([patient("a")], f"{BASE}/Patient?same=1")))
    result = gw.search("Patient", max_pages=10)
    assert len(rec.requests) == 2 and not result.truncated


@pytest.mark.parametrize(
    "next_url",
    [
        "https://attacker.example/fhir/R4/Patient?page=2",
        "http://ehr.example/fhir/R4/Patient?page=2",  # scheme downgrade: another origin
        "https://ehr.example:8443/fhir/R4/Patient?page=2",
        "https://ehr.example/other/Patient?page=2",  # outside the FHIR base
        "//attacker.example/x",
    ],
)
def test_search_refuses_next_links_outside_the_base(next_url: str) -> None:
    gw, rec, _ = gateway(
        lambda r: fhir(200, searchset([patient("a")], next_url)), token=lambda: "secret"
    )
    with pytest.raises(FhirProtocolError, match="outside the FHIR base"):
        gw.search("Patient")
    assert len(rec.requests) == 1  # the token never went anywhere else


def test_search_separates_included_resources_and_rejects_non_searchsets() -> None:
    bundle = searchset([patient("a")])
    bundle["entry"].append(
        {"resource": {"resourceType": "Practitioner", "id": "d"}, "search": {"mode": "include"}}
    )
    bundle["entry"].append({"resource": outcome("warning"), "search": {"mode": "outcome"}})
    gw, _, _ = gateway(lambda r: fhir(200, bundle))
    result = gw.search("Patient")
    assert [r["id"] for r in result.resources] == ["a"]
    assert [r["id"] for r in result.included] == ["d"]
    gw, _, _ = gateway(lambda r: fhir(200, {"resourceType": "Bundle", "type": "batch-response"}))
    with pytest.raises(FhirProtocolError, match="not a searchset"):
        gw.search("Patient")


def test_search_param_validation() -> None:
    gw, rec, _ = gateway(lambda r: fhir(200, searchset([])))
    with pytest.raises(FhirRequestError):
        gw.search("Patient", [("name", 3)])  # type: ignore[list-item]
    with pytest.raises(FhirRequestError):
        gw.search("Patient", max_pages=0)
    assert rec.requests == []


def test_conditional_create_headers_and_outcome() -> None:
    answers = iter([fhir(201, patient("n1")), fhir(200, patient("n1"))])
    gw, rec, _ = gateway(lambda r: next(answers))
    first = gw.create({"resourceType": "Patient"}, if_none_exist="identifier=sys|1")
    second = gw.create({"resourceType": "Patient"}, if_none_exist="identifier=sys|1")
    assert (first.created, second.created) == (True, False)
    assert first.reference == "Patient/n1"
    req = rec.requests[0]
    assert req.method == "POST" and str(req.url) == f"{BASE}/Patient"
    assert req.headers["If-None-Exist"] == "identifier=sys|1"
    assert req.headers["Content-Type"] == "application/fhir+json"
    assert json.loads(req.content) == {"resourceType": "Patient"}
    with pytest.raises(FhirRequestError):
        gw.create({"resourceType": "Patient"}, if_none_exist="a\r\nX-Evil: 1")


def test_create_with_minimal_answer_reads_the_location() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, headers={"Location": f"{BASE}/Patient/n2/_history/1"})
        return fhir(200, patient("n2"))

    gw, rec, _ = gateway(handler)
    assert gw.create({"resourceType": "Patient"}).resource == patient("n2")
    assert str(rec.requests[1].url) == f"{BASE}/Patient/n2"


def test_update_puts_to_the_id() -> None:
    gw, rec, _ = gateway(lambda r: fhir(200, {**patient("7"), "meta": {"versionId": "2"}}))
    gw.update(patient("7"), if_match='W/"1"')
    assert rec.requests[0].method == "PUT" and rec.requests[0].headers["If-Match"] == 'W/"1"'
    with pytest.raises(FhirRequestError):
        gw.update({"resourceType": "Patient"})


def _tx_response(*statuses: str, **extra: Any) -> dict[str, Any]:
    entries = []
    for i, s in enumerate(statuses):
        response: dict[str, Any] = {"status": s, "location": f"Observation/o{i}/_history/1"}
        if s.startswith("4"):
            response["outcome"] = outcome(f"entry {i} is invalid")
        entries.append({"response": response})
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": entries, **extra}


TX = {"resourceType": "Bundle", "type": "transaction", "entry": [{}, {}]}


def test_transaction_results_in_order() -> None:
    gw, rec, _ = gateway(lambda r: fhir(200, _tx_response("201 Created", "200 OK")))
    result = gw.transaction(TX)
    assert [(e.status, e.reference, e.created) for e in result.entries] == [
        (201, "Observation/o0", True),
        (200, "Observation/o1", False),
    ]
    assert str(rec.requests[0].url) == BASE


def test_transaction_entry_failure_answered_with_200_is_an_error() -> None:
    gw, _, _ = gateway(lambda r: fhir(200, _tx_response("201", "400 Bad Request")))
    with pytest.raises(FhirTransactionError) as info:
        gw.transaction(TX)
    assert info.value.entry_index == 1 and info.value.status == 400
    assert info.value.outcome_text == "entry 1 is invalid"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_tx_response("201"), "2 entries sent, 1 answered"),
        ({"resourceType": "Bundle", "type": "batch-response", "entry": []}, "transaction-response"),
        (
            {"resourceType": "Bundle", "type": "transaction-response", "entry": [{}, {}]},
            "no response",
        ),
        (_tx_response("201", "weird"), "no valid status"),
    ],
)
def test_transaction_protocol_errors(body: dict[str, Any], message: str) -> None:
    gw, _, _ = gateway(lambda r: fhir(200, body))
    with pytest.raises(FhirProtocolError, match=message):
        gw.transaction(TX)


def test_transaction_needs_a_transaction_bundle() -> None:
    gw, rec, _ = gateway(lambda r: fhir(200, {}))
    with pytest.raises(FhirRequestError):
        gw.transaction({"resourceType": "Bundle", "type": "batch"})
    assert rec.requests == []


@pytest.mark.parametrize(
    "url", ["ftp://x/fhir", "not a url", "https://ehr.example/fhir?x=1", "https:///fhir"]
)
def test_bad_base_url(url: str) -> None:
    with pytest.raises(FhirRequestError):
        HttpFhirGateway(url)


def test_from_settings() -> None:
    from plugin.config import FhirSettings

    with HttpFhirGateway.from_settings(FhirSettings(base_url=BASE + "/", timeout_s=3)) as gw:
        assert gw.base_url == BASE
    with pytest.raises(FhirRequestError, match="no FHIR server configured"):
        HttpFhirGateway.from_settings(FhirSettings())
