"""Prefetch templates: parsing, the 2.0 token rules, and safe rendering."""

from __future__ import annotations

from datetime import date

import pytest

from cds_hooks.errors import TemplateError
from cds_hooks.templates import TokenUnresolvable, parse_template

TODAY = date(2024, 9, 13)
CONTEXT = {"userId": "PractitionerRole/r1", "patientId": "1288992", "encounterId": "89284"}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Patient/{{context.patientId}}", "Patient/1288992"),
        (
            "Observation?patient={{context.patientId}}&code=4548-4&_count=1&sort:desc=date",
            "Observation?patient=1288992&code=4548-4&_count=1&sort:desc=date",
        ),
        (
            "Condition?patient=Patient/{{ context.patientId }}&code=http://snomed.info/sct|44054006",
            "Condition?patient=Patient/1288992&code=http://snomed.info/sct|44054006",
        ),
        ("PractitionerRole?_id={{userPractitionerRoleId}}", "PractitionerRole?_id=r1"),
        ("{{context.userId}}", "PractitionerRole/r1"),
        ("Encounter/{{context.encounterId}}", "Encounter/89284"),
        ("Observation?date=gt{{today() - 90 days}}", "Observation?date=gt2024-06-15"),
        ("Appointment?date=lt{{today() + 1 day}}", "Appointment?date=lt2024-09-14"),
        ("Appointment?date=ge{{today()}}", "Appointment?date=ge2024-09-13"),
    ],
)
def test_render(template: str, expected: str) -> None:
    assert parse_template(template).render(CONTEXT, TODAY) == expected


def test_values_are_percent_encoded_so_they_cannot_change_the_query() -> None:
    tpl = parse_template("Observation?patient={{context.patientId}}&code=1")
    evil = {"patientId": "1&_include=*&x=a b#frag"}
    assert tpl.render(evil, TODAY) == (
        "Observation?patient=1%26_include%3D%2A%26x%3Da%20b%23frag&code=1"
    )
    path = parse_template("Patient/{{context.patientId}}")
    assert path.render({"patientId": "../Observation?x=1"}, TODAY) == (
        "Patient/..%2FObservation%3Fx%3D1"
    )


def test_a_whole_template_token_must_render_to_a_reference() -> None:
    tpl = parse_template("{{context.userId}}")
    with pytest.raises(TokenUnresolvable):
        tpl.render({"userId": "https://evil.example/x"}, TODAY)


@pytest.mark.parametrize(
    ("context", "template"),
    [
        ({}, "Patient/{{context.patientId}}"),
        ({"patientId": {"id": "1"}}, "Patient/{{context.patientId}}"),
        ({"patientId": ["1"]}, "Patient/{{context.patientId}}"),
        ({"userId": "Practitioner/p1"}, "PractitionerRole?_id={{userPractitionerRoleId}}"),
        ({}, "Practitioner/{{userPractitionerId}}"),
    ],
)
def test_unresolvable_tokens(context: dict[str, object], template: str) -> None:
    with pytest.raises(TokenUnresolvable):
        parse_template(template).render(context, TODAY)


def test_user_tokens_follow_the_user_type() -> None:
    tpl = parse_template("Practitioner/{{userPractitionerId}}")
    assert tpl.render({"userId": "Practitioner/p1"}, TODAY) == "Practitioner/p1"
    assert parse_template("Patient/{{userPatientId}}").render({"userId": "Patient/x"}, TODAY) == (
        "Patient/x"
    )


@pytest.mark.parametrize(
    "template",
    [
        "",
        " Patient/1",
        "/Patient/{{context.patientId}}",
        "https://ehr.example/fhir/Patient/{{context.patientId}}",
        "Patient/{{context.patient.id}}",
        "Patient/{{context.draftOrders.entry.resource.id}}",
        "Patient/{{patientId}}",
        "Observation?patient={{context.patientId}",
        "Observation?patient={{context.patientId}}}",
        "Observation?code=a b",
        "Observation?code=1#x",
        "patient/{{context.patientId}}",
        "{{context.patientId}}?x=1",
        "Observation?date=gt{{today() - 1 week}}",
    ],
)
def test_invalid_templates_fail_at_parse_time(template: str) -> None:
    with pytest.raises(TemplateError):
        parse_template(template)


def test_context_fields_used() -> None:
    tpl = parse_template(
        "Observation?patient={{context.patientId}}&encounter={{context.encounterId}}"
        "&performer={{userPractitionerId}}"
    )
    assert tpl.context_fields == {"patientId", "encounterId", "userId"}
