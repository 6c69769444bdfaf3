"""Against a FHIR server that validates resources on write (`--validate`, as Medplum's
production server does): our whole write-back is accepted by a second, independent
validator, and an invalid resource comes back as a 400 with the OperationOutcome text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fhir_mappers.outbound import build_write_bundle
from plugin.fhir import FhirInvalid, HttpFhirGateway
from plugin.fhir.writeback import write
from plugin.local_servers.fhir_server import LocalFhirServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def strict_gw() -> Iterator[HttpFhirGateway]:
    with LocalFhirServer(validate=True) as server, HttpFhirGateway(server.base_url) as gw:
        yield gw


def test_our_write_back_passes_the_server_validator(strict_gw, write_request) -> None:
    patient = strict_gw.create({"resourceType": "Patient"}).reference
    media = strict_gw.create(
        {"resourceType": "Media", "status": "completed", "content": {"contentType": "image/jpeg"}}
    ).reference
    built = build_write_bundle(write_request(patient, image_sources={"right-1": media}))
    result = write(strict_gw, built, max_entries=8)
    assert result.created_count == len(built.entries)


@pytest.mark.parametrize(
    ("resource", "text"),
    [
        ({"resourceType": "Observation", "status": "final"}, "Missing required property"),
        (
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "x"},
                "valueFoo": 1,
            },
            'Invalid additional property "valueFoo"',
        ),
    ],
)
def test_an_invalid_resource_is_a_400_with_outcome_text(strict_gw, resource, text: str) -> None:
    with pytest.raises(FhirInvalid) as info:
        strict_gw.create(resource)
    assert info.value.status == 400 and text in (info.value.outcome_text or "")


def test_an_invalid_entry_fails_the_transaction(strict_gw) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {"resourceType": "Patient"},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": {"resourceType": "Observation", "status": "final"},
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }
    with pytest.raises(FhirInvalid, match="Missing required property"):
        strict_gw.transaction(bundle)
