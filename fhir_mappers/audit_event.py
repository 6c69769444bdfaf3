"""Pure builder: one audit record -> a FHIR R4 AuditEvent (JSON).

Follows the shape of IHE Basic Audit Log Patterns (ITI BALP) for RESTful interactions:
type `audit-event-type#rest`, subtype from `restful-interaction`, action C/R/U/D/E,
outcome 0/4/8, source.type `security-source-type#4` (application server), the requesting
agent, and entities: patients as `audit-entity-type#1` / `object-role#1`, other resources
as `#2` / `#4`. Actions of the application itself (grade, write-back, sign-off) are typed
with our own code system. The id is derived from our record id (`audit_event_id`), so a
retried PUT is idempotent. Nothing but references, codes and ids goes in: no search
strings (they carry patient identifiers), no names, no free text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fhir_mappers.codes import DEEPDR_BASE, DEEPDR_IDENTIFIER

JSON = dict[str, Any]

AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
SECURITY_SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
AUDIT_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
DEEPDR_AUDIT_ACTION = f"{DEEPDR_BASE}/CodeSystem/audit-action"
AUDIT_RECORD_ID_SYSTEM = f"{DEEPDR_IDENTIFIER}/audit-record"
REQUEST_ID_SYSTEM = f"{DEEPDR_IDENTIFIER}/request-id"

# restful-interaction code -> AuditEvent.action (as ITI BALP does).
REST_ACTIONS: dict[str, str] = {
    "read": "R",
    "vread": "R",
    "history-instance": "R",
    "search": "E",
    "search-type": "E",
    "capabilities": "E",
    "create": "C",
    "update": "U",
    "patch": "U",
    "delete": "D",
    "transaction": "E",
    "batch": "E",
    "operation": "E",
}
# Our own application-level actions -> AuditEvent.action.
APP_ACTIONS: dict[str, str] = {
    "grade": "E",
    "advise": "E",
    "write-back": "C",
    "sign-off": "U",
    "cds-call": "E",
    "smart-launch": "E",
}
OUTCOME_CODES = {"success": "0", "denied": "4", "failure": "8"}
_PEOPLE = frozenset({"Patient"})
_RECORD_ID = re.compile(r"^[A-Za-z0-9\-.]{1,50}$")
_REFERENCE = re.compile(
    r"^(?:https?://\S+/)?([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(?:/_history/\S+)?$"
)


class AuditEventInputError(ValueError):
    """The record cannot be expressed as an AuditEvent (unknown action or outcome)."""


def audit_event_id(record_id: str) -> str:
    """The AuditEvent's id, derived from our record's id: written with PUT (update as
    create), a retried write replaces the same resource instead of adding another."""
    if not _RECORD_ID.match(record_id):
        raise AuditEventInputError("audit record id must be 1-50 letters, digits, '-' or '.'")
    return f"deepdr-audit-{record_id}"


def build_audit_event(
    *,
    record_id: str,
    action: str,
    outcome: str,
    recorded: datetime,
    actor: str,
    resource_refs: Sequence[str] = (),
    request_id: str | None = None,
    source_name: str = "deepdr-fhir",
) -> JSON:
    """`actor` is a FHIR reference (Practitioner/1, Device/2) or an id of ours
    ("client:<client_id>", "system", "worker:<id>"), shown as the agent's altId."""
    if action in REST_ACTIONS:
        event_type = {"system": AUDIT_EVENT_TYPE, "code": "rest", "display": "RESTful Operation"}
        subtype = [{"system": RESTFUL_INTERACTION, "code": action}]
        action_code = REST_ACTIONS[action]
    elif action in APP_ACTIONS:
        event_type = {"system": DEEPDR_AUDIT_ACTION, "code": action}
        subtype = []
        action_code = APP_ACTIONS[action]
    else:
        raise AuditEventInputError(f"no AuditEvent mapping for action {action!r}")
    if outcome not in OUTCOME_CODES:
        raise AuditEventInputError(f"unknown audit outcome {outcome!r}")
    if recorded.tzinfo is None:
        raise AuditEventInputError("recorded time must be timezone-aware")
    event: JSON = {
        "resourceType": "AuditEvent",
        "id": audit_event_id(record_id),
        "type": event_type,
        "action": action_code,
        "recorded": recorded.astimezone(UTC).isoformat(timespec="milliseconds"),
        "outcome": OUTCOME_CODES[outcome],
        "agent": [_agent(actor)],
        "source": {
            "observer": {"display": source_name},
            "type": [
                {"system": SECURITY_SOURCE_TYPE, "code": "4", "display": "Application Server"}
            ],
        },
        "entity": [_entity(ref) for ref in resource_refs]
        + [_identifier_entity(AUDIT_RECORD_ID_SYSTEM, record_id)]
        + ([_identifier_entity(REQUEST_ID_SYSTEM, request_id)] if request_id else []),
    }
    if subtype:
        event["subtype"] = subtype
    return event


def _agent(actor: str) -> JSON:
    if _REFERENCE.match(actor):
        return {"who": {"reference": actor}, "requestor": True}
    return {"altId": actor, "requestor": True}


def _entity(reference: str) -> JSON:
    match = _REFERENCE.match(reference)
    if match is None:
        raise AuditEventInputError("audit entities must be FHIR references")
    person = match.group(1) in _PEOPLE
    return {
        "what": {"reference": reference},
        "type": {"system": AUDIT_ENTITY_TYPE, "code": "1" if person else "2"},
        "role": {"system": OBJECT_ROLE, "code": "1" if person else "4"},
    }


def _identifier_entity(system: str, value: str) -> JSON:
    """Our record's own id (makes a retried write findable) or the request id."""
    return {
        "what": {"identifier": {"system": system, "value": value}},
        "type": {"system": AUDIT_ENTITY_TYPE, "code": "2"},
    }
