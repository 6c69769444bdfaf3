"""Write-back sending logic (one transaction or split in dependency order) against the
in-memory gateway; the real server is in test_writeback_integration.py."""

from __future__ import annotations

import pytest

from fhir_mappers.outbound import build_write_bundle
from plugin.fhir import FhirConflict, FhirNotFound, FhirRequestError
from plugin.fhir.memory import InMemoryFhirGateway
from plugin.fhir.writeback import dependency_levels, write


def test_one_transaction_then_retry_creates_nothing(write_request) -> None:
    gw = InMemoryFhirGateway()
    built = build_write_bundle(write_request("Patient/p1"))
    first = write(gw, built)
    second = write(gw, built)
    assert first.transactions == 1 and gw.requests.count("transaction") == 2
    assert first.created_count == len(built.entries) and second.created_count == 0
    assert first.references == second.references
    report = gw.read("DiagnosticReport", first.references["diagnostic-report"].split("/")[1])
    assert report["result"][0]["reference"] == first.references["observation/right/image-quality"]


def test_split_write_orders_by_dependency_and_resolves_references(write_request) -> None:
    gw = InMemoryFhirGateway()
    built = build_write_bundle(write_request("Patient/p1"))
    result = write(gw, built, max_entries=3)
    assert result.transactions > 1
    refs = result.references
    for name, ref in refs.items():
        rtype, rid = ref.split("/")
        stored = gw.read(rtype, rid)
        text = str(stored)
        assert "urn:uuid:" not in text, name  # every in-Bundle reference was resolved
    prov = gw.read("Provenance", refs["provenance"].split("/")[1])
    assert {t["reference"] for t in prov["target"]} == {
        r for n, r in refs.items() if not n.startswith(("device/", "provenance"))
    }
    again = write(gw, built, max_entries=3)
    assert again.created_count == 0 and again.references == refs


def test_dependency_levels() -> None:
    entries = [
        {"fullUrl": "urn:a", "resource": {"x": {"reference": "urn:b"}}},
        {"fullUrl": "urn:b", "resource": {}},
        {
            "fullUrl": "urn:c",
            "resource": {"y": [{"reference": "urn:a"}, {"reference": "Patient/1"}]},
        },
    ]
    assert dependency_levels(entries) == [[1], [0], [2]]
    entries[1]["resource"] = {"z": {"reference": "urn:c"}}
    with pytest.raises(FhirRequestError, match="cycle"):
        dependency_levels(entries)


def test_max_entries_must_be_positive(write_request) -> None:
    with pytest.raises(FhirRequestError):
        write(InMemoryFhirGateway(), build_write_bundle(write_request("Patient/p1")), max_entries=0)


def test_memory_gateway_contract() -> None:
    gw = InMemoryFhirGateway()
    made = gw.create(
        {"resourceType": "Patient", "identifier": [{"system": "s", "value": "1"}]},
        if_none_exist="identifier=s|1",
    )
    again = gw.create({"resourceType": "Patient"}, if_none_exist="identifier=s|1")
    assert made.created and not again.created and again.resource["id"] == made.resource["id"]
    gw.create({"resourceType": "Patient", "identifier": [{"system": "s", "value": "1"}]})
    with pytest.raises(FhirConflict):
        gw.create({"resourceType": "Patient"}, if_none_exist="identifier=s|1")
    with pytest.raises(FhirNotFound):
        gw.read("Patient", "nope")
    assert gw.search("Patient", [("identifier", "s|1"), ("_count", "1")], max_pages=1).truncated
    updated = gw.update({**made.resource, "active": True})
    assert updated["meta"]["versionId"] == "2"
