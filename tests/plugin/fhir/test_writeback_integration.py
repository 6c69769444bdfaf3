"""The write-back against the real FHIR server: write the DiagnosticReport / Observations /
CarePlan / ServiceRequest / Provenance, read everything back, check every reference
resolves, write again and find no duplicates."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fhir_mappers.outbound import build_write_bundle
from plugin.fhir import FhirError, HttpFhirGateway
from plugin.fhir.writeback import WriteResult, write

pytestmark = pytest.mark.integration

MEDPLUM_MAX_CONDITIONAL_ENTRIES = 8  # Medplum 4.5: transactions with conditional creates


@pytest.fixture
def gw(fhir_base_url: str) -> Iterator[HttpFhirGateway]:
    with HttpFhirGateway(fhir_base_url, timeout_s=15) as gateway:
        yield gateway


@pytest.fixture
def record(gw: HttpFhirGateway) -> dict[str, str]:
    """A patient with what the write refers to: two fundus images, a diabetes Condition and
    an HbA1c Observation."""
    patient = gw.create({"resourceType": "Patient", "name": [{"family": "Test"}]}).reference
    subject = {"reference": patient}
    media = gw.create(
        {
            "resourceType": "Media",
            "status": "completed",
            "subject": subject,
            "content": {"contentType": "image/jpeg", "url": "http://127.0.0.1/img.jpg"},
        }
    ).reference
    study = gw.create(
        {"resourceType": "ImagingStudy", "status": "available", "subject": subject}
    ).reference
    condition = gw.create(
        {"resourceType": "Condition", "subject": subject, "code": {"text": "Type 2 diabetes"}}
    ).reference
    hba1c = gw.create(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "HbA1c"},
            "subject": subject,
        }
    ).reference
    return {
        "patient": patient,
        "media": media,
        "study": study,
        "condition": condition,
        "hba1c": hba1c,
    }


def _request(write_request: Any, record: dict[str, str], **kw: Any) -> Any:
    return write_request(
        record["patient"],
        image_sources={"right-1": record["media"], "left-1": record["study"]},
        condition_ref=record["condition"],
        fact_refs=(record["hba1c"],),
        **kw,
    )


def _counts(gw: HttpFhirGateway, patient: str, result: WriteResult) -> dict[str, int]:
    counts = {
        rtype: len(gw.search(rtype, [("subject", patient)]).resources)
        for rtype in ("Observation", "DiagnosticReport", "CarePlan", "ServiceRequest")
    }
    counts["Observation"] -= 1  # the HbA1c the record started with
    prov = gw.read("Provenance", result.references["provenance"].split("/")[1])
    tag = prov["meta"]["tag"][0]
    counts["Provenance"] = len(
        gw.search("Provenance", [("_tag", f"{tag['system']}|{tag['code']}")]).resources
    )
    for name, ref in result.references.items():
        if name.startswith("device/"):
            ident = gw.read("Device", ref.split("/")[1])["identifier"][0]
            counts[name] = len(
                gw.search(
                    "Device", [("identifier", f"{ident['system']}|{ident['value']}")]
                ).resources
            )
    return counts


def _assert_references_resolve(gw: HttpFhirGateway, result: WriteResult, patient: str) -> None:
    for name, ref in result.references.items():
        rtype, rid = ref.split("/")
        resource = gw.read(rtype, rid)
        for path, target in _references(resource):
            assert not target.startswith("urn:"), f"{name}.{path} left a urn: {target}"
            ttype, tid = target.split("/")
            assert gw.read(ttype, tid)["resourceType"] == ttype, f"{name}.{path} -> {target}"
        if "subject" in resource:
            assert resource["subject"]["reference"] == patient


def test_one_eye_write_is_one_transaction_and_retry_duplicates_nothing(
    gw, record, write_request
) -> None:
    built = build_write_bundle(
        _request(write_request, record, eyes=("right",), advice=False, referral=False)
    )
    assert len(built.entries) <= MEDPLUM_MAX_CONDITIONAL_ENTRIES
    first = write(gw, built)
    assert first.transactions == 1
    assert {n for n, created in first.created.items() if not created} <= {"device/fundus-grader"}
    _assert_references_resolve(gw, first, record["patient"])

    report = gw.read("DiagnosticReport", first.references["diagnostic-report"].split("/")[1])
    assert report["status"] == "preliminary"
    assert report["media"] == [{"link": {"reference": record["media"]}}]
    results = [gw.read("Observation", r["reference"].split("/")[1]) for r in report["result"]]
    severity = next(o for o in results if o["code"]["coding"][0]["code"] == "71491-5")
    assert severity["valueCodeableConcept"]["coding"][0]["code"] == "LA18645-4"
    assert severity["derivedFrom"] == [{"reference": record["media"]}]
    device = gw.read("Device", severity["device"]["reference"].split("/")[1])
    assert device["version"] == [{"value": "0.1.0"}]
    prov = gw.read("Provenance", first.references["provenance"].split("/")[1])
    assert {t["reference"] for t in prov["target"]} == {
        report["id"] and f"DiagnosticReport/{report['id']}"
    } | {f"Observation/{o['id']}" for o in results}
    assert prov["agent"][0]["who"]["reference"] == f"Device/{device['id']}"
    before = _counts(gw, record["patient"], first)

    again = write(gw, built)
    assert again.references == first.references
    assert again.created_count == 0
    assert _counts(gw, record["patient"], again) == before
    assert (
        before["Observation"] == 5 and before["DiagnosticReport"] == 1 and before["Provenance"] == 1
    )


def _check_full_write(gw: HttpFhirGateway, record: dict[str, str], first: WriteResult) -> None:
    # Model Devices are shared by every patient's results: another test may have made them.
    existing = {name for name, created in first.created.items() if not created}
    assert existing <= {"device/fundus-grader", "device/advice-engine"}
    _assert_references_resolve(gw, first, record["patient"])
    plan = gw.read("CarePlan", first.references["care-plan"].split("/")[1])
    assert (plan["status"], plan["intent"]) == ("draft", "proposal")
    assert plan["addresses"] == [{"reference": record["condition"]}]
    assert plan["supportingInfo"] == [{"reference": record["hba1c"]}]
    assert len(plan["activity"]) == 2
    request = gw.read("ServiceRequest", first.references["service-request"].split("/")[1])
    assert request["reasonReference"][0]["reference"] == first.references["diagnostic-report"]


FULL_COUNTS = {
    "Observation": 7,
    "DiagnosticReport": 1,
    "CarePlan": 1,
    "ServiceRequest": 1,
    "Provenance": 1,
    "device/fundus-grader": 1,
    "device/advice-engine": 1,
}


def test_full_write_is_one_atomic_transaction_and_retry_duplicates_nothing(
    gw, record, write_request
) -> None:
    built = build_write_bundle(_request(write_request, record))
    # Larger than Medplum's own limit for conditional transactions: the test server resolves
    # conditional creates itself (servers/fhir/server.mjs), as HAPI does.
    assert len(built.entries) > MEDPLUM_MAX_CONDITIONAL_ENTRIES
    first = write(gw, built)
    assert first.transactions == 1
    _check_full_write(gw, record, first)
    assert _counts(gw, record["patient"], first) == FULL_COUNTS

    again = write(gw, built)
    assert again.transactions == 1
    assert again.created_count == 0 and again.references == first.references
    assert _counts(gw, record["patient"], again) == FULL_COUNTS


def test_split_write_for_servers_with_entry_limits_reads_back_and_retries_cleanly(
    gw, record, write_request
) -> None:
    # Medplum's production server refuses conditional transactions past 8 entries; the
    # `max_entries` setting splits the write for such servers.
    built = build_write_bundle(_request(write_request, record))
    first = write(gw, built, max_entries=MEDPLUM_MAX_CONDITIONAL_ENTRIES)
    assert first.transactions > 1
    _check_full_write(gw, record, first)
    assert _counts(gw, record["patient"], first) == FULL_COUNTS

    again = write(gw, built, max_entries=MEDPLUM_MAX_CONDITIONAL_ENTRIES)
    assert again.created_count == 0 and again.references == first.references
    assert _counts(gw, record["patient"], again) == FULL_COUNTS


def test_conditional_create_matching_several_resources_fails_whole_transaction(gw) -> None:
    tag = "urn:deepdr-test|dup"
    for _ in range(2):
        gw.create(
            {
                "resourceType": "Basic",
                "code": {"text": "dup"},
                "meta": {"tag": [{"system": "urn:deepdr-test", "code": "dup"}]},
            }
        )
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:7d1e2f4c-0000-4000-8000-000000000001",
                "resource": {
                    "resourceType": "Basic",
                    "code": {"text": "new"},
                    "meta": {"tag": [{"system": "urn:deepdr-test", "code": "new"}]},
                },
                "request": {"method": "POST", "url": "Basic"},
            },
            {
                "resource": {"resourceType": "Basic", "code": {"text": "x"}},
                "request": {"method": "POST", "url": "Basic", "ifNoneExist": f"_tag={tag}"},
            },
        ],
    }
    with pytest.raises(FhirError) as info:
        gw.transaction(bundle)
    assert info.value.status == 412
    assert gw.search("Basic", [("_tag", "urn:deepdr-test|new")]).resources == ()


def _references(node: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(node, dict):
        found = [(path, node["reference"])] if isinstance(node.get("reference"), str) else []
        return found + [
            r for k, v in node.items() if k != "reference" for r in _references(v, f"{path}.{k}")
        ]
    if isinstance(node, list):
        return [r for i, v in enumerate(node) for r in _references(v, f"{path}[{i}]")]
    return []
