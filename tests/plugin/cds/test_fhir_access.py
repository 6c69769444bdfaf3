"""The prefetch fetcher over plugin.fhir's gateway: reads, whole searches, the hook's token
sent and nothing else, errors as FetchError; the shared transport survives per-call
clients; against a recording transport (unit) and the real FHIR server (integration)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cds_hooks.errors import FetchError
from plugin.cds.fhir_access import GatewayFhirFetcher, HookFhirAccess, same_server
from plugin.fhir.http_gateway import HttpFhirGateway

BASE = "https://ehr.example.org/fhir"


class FakeServer:
    def __init__(self) -> None:
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        path = request.url.path
        if path.endswith("/Patient/p1"):
            return httpx.Response(200, json={"resourceType": "Patient", "id": "p1"})
        if path.endswith("/Patient/gone"):
            return httpx.Response(410, json={"resourceType": "OperationOutcome"})
        if path.endswith("/Condition"):
            page = request.url.params.get("page", "1")
            body: dict[str, Any] = {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [
                    {
                        "resource": {"resourceType": "Condition", "id": f"c{page}"},
                        "search": {"mode": "match"},
                    }
                ],
            }
            if page == "1":
                body["link"] = [{"relation": "next", "url": f"{BASE}/Condition?page=2"}]
            return httpx.Response(200, json=body)
        if path.endswith("/Observation"):
            return httpx.Response(403, json={"resourceType": "OperationOutcome"})
        return httpx.Response(404)


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def fetcher(server: FakeServer) -> Iterator[GatewayFhirFetcher]:
    access = HookFhirAccess(None, transport=httpx.MockTransport(server), max_retries=0)
    yield GatewayFhirFetcher(access)
    access.close()


def test_a_read_returns_the_resource_with_the_hooks_token(
    fetcher: GatewayFhirFetcher, server: FakeServer
) -> None:
    assert fetcher.fetch(BASE, "Patient/p1", "tok-1") == {"resourceType": "Patient", "id": "p1"}
    assert fetcher.fetch(BASE, "Patient/gone", "tok-1") is None
    assert [r.headers["Authorization"] for r in server.seen] == ["Bearer tok-1"] * 2
    fetcher.fetch(BASE, "Patient/p1", None)
    assert "Authorization" not in server.seen[-1].headers


def test_a_search_comes_back_whole_as_one_searchset(
    fetcher: GatewayFhirFetcher, server: FakeServer
) -> None:
    bundle = fetcher.fetch(
        BASE, "Condition?patient=Patient/p1&code=http://snomed.info/sct|44054006", "t"
    )
    assert bundle is not None and bundle["type"] == "searchset" and bundle["total"] == 2
    assert [e["resource"]["id"] for e in bundle["entry"]] == ["c1", "c2"]
    first = server.seen[0].url
    assert first.params.get("patient") == "Patient/p1"
    assert first.params.get("code") == "http://snomed.info/sct|44054006"


@pytest.mark.parametrize(
    "url",
    ["Observation?patient=Patient/p1", "Patient/p1/_history/2", "Patient/bad id", "../etc/passwd"],
)
def test_failures_and_odd_urls_are_fetch_errors(fetcher: GatewayFhirFetcher, url: str) -> None:
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(BASE, url, "secret-token")
    assert "secret-token" not in str(caught.value)


def test_same_server_compares_bases_not_spellings() -> None:
    assert same_server("HTTPS://EHR.example.org/fhir/", "https://ehr.example.org/fhir")
    assert not same_server("https://ehr.example.org/fhir", "https://ehr.example.org/other")
    assert not same_server(None, "https://ehr.example.org/fhir")


@pytest.mark.integration
def test_against_the_real_fhir_server(fhir_base_url: str) -> None:
    with HttpFhirGateway(fhir_base_url) as gw:
        patient = gw.create({"resourceType": "Patient"}).reference
        for _ in range(3):
            gw.create(
                {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "x"},
                    "subject": {"reference": patient},
                }
            )
    access = HookFhirAccess(None)
    try:
        fetcher = GatewayFhirFetcher(access)
        pid = patient.split("/")[1]
        assert (fetcher.fetch(fhir_base_url, patient, "t") or {})["id"] == pid
        assert fetcher.fetch(fhir_base_url, "Patient/no-such-patient", "t") is None
        bundle = fetcher.fetch(fhir_base_url, f"Observation?patient={patient}&_count=2", "t")
        assert bundle is not None and len(bundle["entry"]) == 3  # two pages, whole
        json.dumps(bundle)
    finally:
        access.close()
