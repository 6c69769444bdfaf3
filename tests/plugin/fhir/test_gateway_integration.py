"""HttpFhirGateway against the real FHIR server (Medplum's router on 127.0.0.1): reads,
conditional creates, error mapping with OperationOutcome text, atomic transactions, search
paging, timeouts and refused connections."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest

from plugin.fhir import (
    FhirInvalid,
    FhirNotFound,
    FhirTimeout,
    FhirUnavailable,
    HttpFhirGateway,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def gw(fhir_base_url: str) -> Iterator[HttpFhirGateway]:
    with HttpFhirGateway(fhir_base_url, timeout_s=10) as gateway:
        yield gateway


def _marker() -> tuple[str, str]:
    return ("https://deepdr-fhir.org/test", uuid.uuid4().hex)


def test_capabilities(gw: HttpFhirGateway) -> None:
    cap = gw.capabilities()
    assert cap["resourceType"] == "CapabilityStatement" and cap["fhirVersion"] == "4.0.1"


def test_create_read_and_conditional_create(gw: HttpFhirGateway) -> None:
    system, value = _marker()
    patient = {"resourceType": "Patient", "identifier": [{"system": system, "value": value}]}
    first = gw.create(patient, if_none_exist=f"identifier={system}|{value}")
    second = gw.create(patient, if_none_exist=f"identifier={system}|{value}")
    assert first.created and not second.created
    assert second.resource["id"] == first.resource["id"]
    assert gw.read("Patient", first.resource["id"])["identifier"][0]["value"] == value
    found = gw.search("Patient", [("identifier", f"{system}|{value}")])
    assert [r["id"] for r in found.resources] == [first.resource["id"]]


def test_read_missing_is_not_found_with_outcome_text(gw: HttpFhirGateway) -> None:
    with pytest.raises(FhirNotFound) as info:
        gw.read("Patient", str(uuid.uuid4()))
    assert info.value.status == 404
    assert info.value.outcome_text == "Not found"


def test_bad_search_parameter_is_invalid_with_outcome_text(gw: HttpFhirGateway) -> None:
    with pytest.raises(FhirInvalid) as info:
        gw.search("Observation", [("date", "last tuesday")])
    assert info.value.status == 400
    assert "Invalid format for date search parameter" in (info.value.outcome_text or "")


def test_failed_transaction_is_invalid_and_writes_nothing(gw: HttpFhirGateway) -> None:
    system, value = _marker()
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": system, "value": value}],
                },
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": {"resourceType": "Patient", "id": "x"},
                "request": {"method": "PUT", "url": "Patient/not-x"},
            },
        ],
    }
    with pytest.raises(FhirInvalid) as info:
        gw.transaction(bundle)
    assert info.value.status == 400 and info.value.outcome_text == "Incorrect resource ID"
    assert gw.search("Patient", [("identifier", f"{system}|{value}")]).resources == ()


def test_transaction_entry_without_method_fails_whole_transaction(gw: HttpFhirGateway) -> None:
    system, value = _marker()
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": system, "value": value}],
                },
                "request": {"method": "POST", "url": "Patient"},
            },
            {"resource": {"resourceType": "Patient"}, "request": {"url": "Patient"}},
        ],
    }
    with pytest.raises(FhirInvalid, match="Missing Bundle entry request method"):
        gw.transaction(bundle)
    assert gw.search("Patient", [("identifier", f"{system}|{value}")]).resources == ()


def test_search_follows_next_links_across_pages(gw: HttpFhirGateway) -> None:
    patient = gw.create({"resourceType": "Patient"}).reference
    made = {
        gw.create(
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": f"n{i}"},
                "subject": {"reference": patient},
            }
        ).resource["id"]
        for i in range(7)
    }
    result = gw.search("Observation", [("subject", patient), ("_count", "3")])
    ids = [r["id"] for r in result.resources]
    assert (result.pages, result.total, result.truncated) == (3, 7, False)
    assert len(ids) == 7 and set(ids) == made
    capped = gw.search("Observation", [("subject", patient), ("_count", "3")], max_pages=2)
    assert (len(capped.resources), capped.pages, capped.truncated) == (6, 2, True)


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # the kernel accepts the connection; nobody ever answers
        port = silent.getsockname()[1]
        with HttpFhirGateway(f"http://127.0.0.1:{port}/fhir", timeout_s=0.5, max_retries=0) as gw:
            with pytest.raises(FhirTimeout) as info:
                gw.read("Patient", "1")
    assert info.value.status is None


def test_a_closed_port_is_unavailable_after_retries() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    with HttpFhirGateway(f"http://127.0.0.1:{port}/fhir", max_retries=2, sleep=sleeps.append) as gw:
        with pytest.raises(FhirUnavailable, match="cannot"):
            gw.read("Patient", "1")
    assert len(sleeps) == 2
