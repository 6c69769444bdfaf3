"""Outbound validation: FHIR R4 structure (fhir.resources.R4B) plus our own checks."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fhir_mappers.outbound import OutboundValidationError, build_write_bundle, validate_resource
from fhir_mappers.outbound.inputs import WriteRequest


@pytest.fixture
def resources(grading, context, advice, referral) -> dict[str, dict[str, Any]]:
    built = build_write_bundle(
        WriteRequest(context=context, grading=grading, advice=advice, referral=referral)
    )
    return {b.name: b.resource for b in built.entries}


def test_everything_we_build_is_valid(resources) -> None:
    for name, resource in resources.items():
        validate_resource(resource, ai_generated=not name.startswith("device/"))


def _broken(resources: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    return copy.deepcopy(resources[name])


@pytest.mark.parametrize(
    ("name", "edit", "problem"),
    [
        (
            "observation/right/dr-severity",
            lambda r: r.update(status="final"),
            "status 'preliminary'",
        ),
        ("observation/right/dr-severity", lambda r: r.update(status="done"), "ObservationStatus"),
        ("observation/right/dr-severity", lambda r: r.pop("meta"), "AIAST"),
        ("observation/right/dr-severity", lambda r: r.pop("identifier"), "business identifier"),
        (
            "observation/right/dr-severity",
            lambda r: r.update(dataAbsentReason={"text": "x"}),
            "exactly one of",
        ),
        ("observation/left/dr-severity", lambda r: r.pop("dataAbsentReason"), "exactly one of"),
        (
            "observation/right/dr-severity",
            lambda r: r.update(code={"text": "no coding"}),
            "coding with system",
        ),
        (
            "observation/right/dr-severity",
            lambda r: r.update(subject={"reference": "Group/1"}),
            "Patient",
        ),
        ("observation/right/dr-severity", lambda r: r.pop("device"), "device is required"),
        (
            "observation/right/dr-severity",
            lambda r: r.update(derivedFrom=[{"reference": "https://evil.example/Media/1"}]),
            "reference must be",
        ),
        ("observation/right/dr-severity", lambda r: r.update(valueWrong=1), "Extra inputs"),
        ("observation/right/dr-severity", lambda r: r.update(issued="yesterday"), "issued"),
        ("diagnostic-report", lambda r: r.update(result=[]), "result must list"),
        ("diagnostic-report", lambda r: r["code"]["coding"][0].update(system="urn:x"), "LOINC"),
        ("care-plan", lambda r: r.update(intent="plan"), "intent 'proposal'"),
        (
            "care-plan",
            lambda r: r["activity"][0]["detail"].update(status="todo"),
            "CarePlanActivityStatus",
        ),
        ("service-request", lambda r: r.update(priority="soonish"), "RequestPriority"),
        ("provenance", lambda r: r.update(target=[]), "target is required"),
        ("provenance", lambda r: r["entity"][0].update(role="input"), "ProvenanceEntityRole"),
        ("device/fundus-grader", lambda r: r.pop("version"), "version is required"),
    ],
)
def test_each_check_catches_its_fault(resources, name: str, edit, problem: str) -> None:
    resource = _broken(resources, name)
    edit(resource)
    with pytest.raises(OutboundValidationError, match=problem) as info:
        validate_resource(resource, ai_generated=not name.startswith("device/"))
    assert info.value.resource_type == resource["resourceType"]


def test_unknown_or_missing_resource_type() -> None:
    with pytest.raises(OutboundValidationError, match="unknown resource type"):
        validate_resource({"resourceType": "Fundus"})
    with pytest.raises(OutboundValidationError, match="unknown resource type 'Coding'"):
        validate_resource({"resourceType": "Coding"})  # a datatype, not a resource
    with pytest.raises(OutboundValidationError, match="resourceType is missing"):
        validate_resource({"status": "final"})


def test_messages_do_not_echo_values(resources) -> None:
    resource = _broken(resources, "observation/right/dr-severity")
    resource["issued"] = "Jane Doe 1970-01-01"
    with pytest.raises(OutboundValidationError) as info:
        validate_resource(resource)
    assert "Jane" not in str(info.value)
