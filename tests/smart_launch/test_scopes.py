"""Scope syntax v1/v2, translation for v1-only servers, and questions about granted scopes."""

from __future__ import annotations

import pytest

from smart_launch.discovery import SmartConfiguration
from smart_launch.scopes import (
    GrantedScopes,
    parse_resource_scope,
    scopes_for_server,
    server_scope_version,
    v2_to_v1,
)


def config(**kwargs: object) -> SmartConfiguration:
    return SmartConfiguration.model_validate({"token_endpoint": "https://x/token", **kwargs})


def test_v2_scope_is_parsed() -> None:
    parsed = parse_resource_scope("patient/Observation.rs")
    assert parsed is not None
    assert (parsed.context, parsed.resource_type, parsed.version) == (
        "patient",
        "Observation",
        "v2",
    )
    assert parsed.interactions == frozenset("rs")
    assert parsed.query is None


def test_v2_scope_with_query_constraint() -> None:
    parsed = parse_resource_scope(
        "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/"
        "observation-category|laboratory"
    )
    assert parsed is not None and parsed.query is not None
    assert parsed.query.startswith("category=")


@pytest.mark.parametrize(
    ("scope", "letters"),
    [("patient/Observation.read", "rs"), ("user/*.write", "cud"), ("system/Patient.*", "cruds")],
)
def test_v1_scopes_map_to_v2_semantics(scope: str, letters: str) -> None:
    parsed = parse_resource_scope(scope)
    assert parsed is not None and parsed.version == "v1"
    assert parsed.interactions == frozenset(letters)


@pytest.mark.parametrize(
    "scope",
    ["openid", "launch/patient", "patient/Observation.dus", "patient/Observation.rr", "x/Obs.r"],
)
def test_non_clinical_or_malformed_scopes_grant_nothing(scope: str) -> None:
    assert parse_resource_scope(scope) is None


@pytest.mark.parametrize(
    ("v2", "v1"),
    [
        ("patient/Observation.rs", ("patient/Observation.read",)),
        ("user/DiagnosticReport.cu", ("user/DiagnosticReport.write",)),
        ("patient/Patient.r", ("patient/Patient.read",)),
        ("user/*.cruds", ("user/*.*",)),
        ("user/CarePlan.cru", ("user/CarePlan.read", "user/CarePlan.write")),
        ("openid", ("openid",)),
        ("patient/Observation.read", ("patient/Observation.read",)),
    ],
)
def test_v2_to_v1(v2: str, v1: tuple[str, ...]) -> None:
    assert v2_to_v1(v2) == v1


def test_scope_version_follows_capabilities_then_scopes_supported() -> None:
    assert server_scope_version(config(capabilities=["permission-v2", "permission-v1"])) == "v2"
    assert server_scope_version(config(capabilities=["permission-v1"])) == "v1"
    assert server_scope_version(config(scopes_supported=["patient/*.read", "openid"])) == "v1"
    assert server_scope_version(config(scopes_supported=["patient/*.rs"])) == "v2"
    assert server_scope_version(config()) == "v2"
    assert server_scope_version(config(source="capability-statement")) == "v1"


def test_scopes_for_a_v1_server_are_translated_and_deduplicated() -> None:
    requested = ("launch", "patient/Observation.rs", "patient/Observation.r", "openid fhirUser")
    assert scopes_for_server(requested, config(capabilities=["permission-v1"])) == (
        "launch",
        "patient/Observation.read",
        "openid",
        "fhirUser",
    )
    assert scopes_for_server(requested, config(capabilities=["permission-v2"]))[1] == (
        "patient/Observation.rs"
    )


def test_granted_scopes_answer_capability_questions() -> None:
    granted = GrantedScopes.parse(
        "launch openid fhirUser patient/Observation.rs patient/Patient.r "
        "user/DiagnosticReport.cu offline_access"
    )
    assert granted.can_read("Observation") and granted.can_search("Observation")
    assert granted.can_read("Patient") and not granted.can_search("Patient")
    assert granted.can_write("DiagnosticReport")
    assert not granted.can_read("DiagnosticReport")
    assert not granted.can_write("Observation")
    assert granted.has_identity and granted.has_refresh
    assert granted.allows("DiagnosticReport", "c", context="user")
    assert not granted.allows("DiagnosticReport", "c", context="patient")


def test_wildcards_and_v1_grants_count() -> None:
    granted = GrantedScopes.parse("user/*.read patient/CarePlan.write")
    assert granted.can_read("ImagingStudy")
    assert granted.can_write("CarePlan")
    assert not granted.can_write("DiagnosticReport")


def test_query_constrained_grants_are_partial() -> None:
    granted = GrantedScopes.parse("patient/Observation.rs?category=laboratory")
    assert granted.can_read("Observation")
    assert not granted.allows("Observation", "r", unconstrained_only=True)


def test_missing_from_reports_what_was_not_granted() -> None:
    granted = GrantedScopes.parse("launch patient/Observation.r patient/Observation.s openid")
    missing = granted.missing_from(
        ["launch", "patient/Observation.rs", "user/DiagnosticReport.cu", "openid", "fhirUser"]
    )
    assert missing == ("user/DiagnosticReport.cu", "fhirUser")


def test_empty_grant() -> None:
    granted = GrantedScopes.parse("")
    assert granted.scopes == ()
    assert not granted.can_read("Patient")


def test_bad_interaction_letter_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        GrantedScopes.parse("").allows("Patient", "x")
