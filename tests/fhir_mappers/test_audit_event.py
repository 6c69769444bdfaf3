"""AuditEvent builder: valid FHIR R4 (R4B models), IHE BALP-shaped codes, no free text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fhir.resources.R4B.auditevent import AuditEvent

from fhir_mappers.audit_event import (
    AUDIT_RECORD_ID_SYSTEM,
    REQUEST_ID_SYSTEM,
    AuditEventInputError,
    audit_event_id,
    build_audit_event,
)

WHEN = datetime(2026, 3, 1, 8, 30, 15, 123000, tzinfo=UTC)


def test_read_of_patient_data() -> None:
    event = build_audit_event(
        record_id="a1b2c3",
        action="read",
        outcome="success",
        recorded=WHEN,
        actor="Practitioner/99",
        resource_refs=["Patient/123", "Observation/obs-1"],
        request_id="req-5",
    )
    AuditEvent.model_validate(event)
    assert event["id"] == "deepdr-audit-a1b2c3" == audit_event_id("a1b2c3")
    assert event["type"]["code"] == "rest"
    assert event["subtype"] == [
        {"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}
    ]
    assert (event["action"], event["outcome"]) == ("R", "0")
    assert event["recorded"] == "2026-03-01T08:30:15.123+00:00"
    assert event["agent"] == [{"who": {"reference": "Practitioner/99"}, "requestor": True}]
    assert event["source"]["type"][0]["code"] == "4"
    patient, observation, record, request = event["entity"]
    assert (patient["type"]["code"], patient["role"]["code"]) == ("1", "1")
    assert (observation["type"]["code"], observation["role"]["code"]) == ("2", "4")
    assert record["what"]["identifier"] == {"system": AUDIT_RECORD_ID_SYSTEM, "value": "a1b2c3"}
    assert request["what"]["identifier"] == {"system": REQUEST_ID_SYSTEM, "value": "req-5"}


@pytest.mark.parametrize(
    ("action", "outcome", "code", "outcome_code"),
    [
        ("search", "success", "E", "0"),
        ("create", "failure", "C", "8"),
        ("update", "denied", "U", "4"),
        ("transaction", "success", "E", "0"),
        ("write-back", "success", "C", "0"),
        ("sign-off", "success", "U", "0"),
    ],
)
def test_actions_and_outcomes(action: str, outcome: str, code: str, outcome_code: str) -> None:
    event = build_audit_event(
        record_id="r1", action=action, outcome=outcome, recorded=WHEN, actor="client:ehr-app"
    )
    AuditEvent.model_validate(event)
    assert (event["action"], event["outcome"]) == (code, outcome_code)
    assert event["agent"] == [{"altId": "client:ehr-app", "requestor": True}]
    if action in ("write-back", "sign-off"):
        assert event["type"]["code"] == action and "subtype" not in event


@pytest.mark.parametrize(
    "kwargs",
    [
        {"action": "peek"},
        {"outcome": "meh"},
        {"recorded": datetime(2026, 1, 1)},
        {"resource_refs": ["Zebedee Quartermain"]},
        {"record_id": "has space"},
    ],
)
def test_bad_input_is_refused(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {
        "record_id": "r1",
        "action": "read",
        "outcome": "success",
        "recorded": WHEN,
        "actor": "system",
    }
    with pytest.raises(AuditEventInputError):
        build_audit_event(**{**args, **kwargs})  # type: ignore[arg-type]
