"""Scope enforcement of the test EHR's FHIR proxy and client-registration scope matching
(pure functions, no servers)."""

from __future__ import annotations

import pytest

from plugin.local_servers.test_ehr.access import (
    FhirInteraction,
    classify,
    decide,
    decide_bundle,
    refers_to_patient,
)
from plugin.local_servers.test_ehr.clients import scope_allowed
from smart_launch.scopes import GrantedScopes


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "Patient/1", FhirInteraction("Patient", "r", "1")),
        ("GET", "Patient/1/_history/2", FhirInteraction("Patient", "r", "1")),
        ("GET", "Observation", FhirInteraction("Observation", "s")),
        ("POST", "Observation/_search", FhirInteraction("Observation", "s")),
        ("POST", "DiagnosticReport", FhirInteraction("DiagnosticReport", "c")),
        ("PUT", "DiagnosticReport/9", FhirInteraction("DiagnosticReport", "u", "9")),
        ("PATCH", "CarePlan/3", FhirInteraction("CarePlan", "u", "3")),
        ("DELETE", "CarePlan/3", FhirInteraction("CarePlan", "d", "3")),
        ("GET", "", FhirInteraction("*", "s")),
        ("GET", "Patient/1/$everything", FhirInteraction("Patient", "r", "1")),
        ("POST", "Patient/1/foo", None),
        ("GET", "metadata", None),
        ("GET", "Patient/..%2F..%2Fadmin", None),
        ("GET", "Pati.ent/1", None),
        ("GET", "_history", FhirInteraction("*", "s")),
    ],
)
def test_classify(method: str, path: str, expected: FhirInteraction | None) -> None:
    assert classify(method, [p for p in path.split("/") if p]) == expected


USER = GrantedScopes.parse("user/Observation.rs user/DiagnosticReport.cu")
PATIENT = GrantedScopes.parse("patient/Patient.r patient/Observation.rs patient/CarePlan.cu")


def test_user_scopes_are_not_confined() -> None:
    assert decide(USER, None, FhirInteraction("Observation", "s")).allowed
    assert decide(USER, None, FhirInteraction("DiagnosticReport", "c")).allowed
    assert not decide(USER, None, FhirInteraction("DiagnosticReport", "r", "1")).allowed
    assert not decide(USER, None, FhirInteraction("Patient", "r", "1")).allowed


def test_patient_scopes_need_a_patient_in_context() -> None:
    assert not decide(PATIENT, None, FhirInteraction("Patient", "r", "p1")).allowed


def test_patient_reads_and_searches_stay_in_the_compartment() -> None:
    assert decide(PATIENT, "p1", FhirInteraction("Patient", "r", "p1")).allowed
    assert not decide(PATIENT, "p1", FhirInteraction("Patient", "r", "p2")).allowed
    search = FhirInteraction("Observation", "s")
    assert decide(PATIENT, "p1", search, [("patient", "p1")]).allowed
    assert decide(PATIENT, "p1", search, [("subject", "Patient/p1"), ("code", "x")]).allowed
    assert not decide(PATIENT, "p1", search, [("code", "x")]).allowed
    assert not decide(PATIENT, "p1", search, [("patient", "p1,p2")]).allowed
    read = decide(PATIENT, "p1", FhirInteraction("Observation", "r", "o1"))
    assert read.allowed and read.check_response_patient


def test_patient_writes_must_belong_to_the_patient() -> None:
    create = FhirInteraction("CarePlan", "c")
    mine = {"resourceType": "CarePlan", "subject": {"reference": "Patient/p1"}}
    theirs = {"resourceType": "CarePlan", "subject": {"reference": "Patient/p2"}}
    assert decide(PATIENT, "p1", create, body=mine).allowed
    assert not decide(PATIENT, "p1", create, body=theirs).allowed
    assert not decide(PATIENT, "p1", create, body=None).allowed
    assert not decide(PATIENT, "p1", FhirInteraction("Observation", "c"), body=mine).allowed


def test_refers_to_patient() -> None:
    assert refers_to_patient({"resourceType": "Patient", "id": "p1"}, "p1")
    assert refers_to_patient({"patient": {"reference": "http://x/fhir/Patient/p1"}}, "p1")
    assert not refers_to_patient({"subject": {"reference": "Patient/p10"}}, "p1")
    assert not refers_to_patient({"subject": "Patient/p1"}, "p1")


def test_bundles_are_checked_entry_by_entry() -> None:
    entry_ok = {
        "request": {"method": "POST", "url": "DiagnosticReport"},
        "resource": {"resourceType": "DiagnosticReport"},
    }
    entry_bad = {"request": {"method": "DELETE", "url": "Observation/1"}}
    assert decide_bundle(USER, None, {"type": "transaction", "entry": [entry_ok]}).allowed
    assert not decide_bundle(
        USER, None, {"type": "transaction", "entry": [entry_ok, entry_bad]}
    ).allowed
    assert not decide_bundle(USER, None, {"type": "collection", "entry": []}).allowed
    assert not decide_bundle(USER, None, {"type": "batch", "entry": [{"request": {}}]}).allowed


@pytest.mark.parametrize(
    ("requested", "allowed", "ok"),
    [
        ("patient/Observation.rs", ("patient/*.cruds",), True),
        ("patient/Observation.rs", ("patient/Observation.r",), False),
        ("user/Observation.rs", ("patient/*.cruds",), False),
        ("openid", ("openid", "launch"), True),
        ("offline_access", ("openid",), False),
        ("patient/Observation.rs?category=lab", ("patient/Observation.rs",), True),
        ("patient/Observation.rs", ("patient/Observation.rs?category=lab",), False),
        ("patient/Patient.read", ("patient/*.read",), True),
    ],
)
def test_scope_allowed_by_registration(requested: str, allowed: tuple[str, ...], ok: bool) -> None:
    assert scope_allowed(requested, allowed) is ok
