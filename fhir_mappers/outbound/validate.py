"""Validate every outbound resource before it is sent: FHIR R4 structure and datatypes
(fhir.resources.R4B models) plus our own checks, which the models do not make: required
status values and codes, the AI label, AI statuses, business identifiers, references that
stay inside the Bundle or the server.
"""

from __future__ import annotations

import re
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from fhir_mappers import codes
from fhir_mappers.outbound.common import (
    AI_CAREPLAN_INTENT,
    AI_CAREPLAN_STATUS,
    AI_OBSERVATION_STATUS,
    AI_REPORT_STATUS,
    AI_SERVICE_REQUEST_INTENT,
    AI_SERVICE_REQUEST_STATUS,
    JSON,
)
from fhir_mappers.outbound.errors import OutboundValidationError
from fhir_mappers.outbound.identifiers import IDENTIFIER_SYSTEMS

# FHIR R4 required bindings (the models accept any code string).
OBSERVATION_STATUS = frozenset(
    "registered preliminary final amended corrected cancelled entered-in-error unknown".split()
)
REPORT_STATUS = frozenset(
    "registered partial preliminary final amended corrected appended cancelled "
    "entered-in-error unknown".split()
)
REQUEST_STATUS = frozenset(
    "draft active on-hold revoked completed entered-in-error unknown".split()
)
CAREPLAN_INTENT = frozenset("proposal plan order option".split())
SERVICE_REQUEST_INTENT = frozenset(
    "proposal plan directive order original-order reflex-order filler-order instance-order "
    "option".split()
)
REQUEST_PRIORITY = frozenset("routine urgent asap stat".split())
ACTIVITY_STATUS = frozenset(
    "not-started scheduled in-progress on-hold completed cancelled stopped unknown "
    "entered-in-error".split()
)
DEVICE_STATUS = frozenset("active inactive entered-in-error unknown".split())
ENTITY_ROLE = frozenset("derivation revision quotation source removal".split())

# What AI output must be written as (MISSION.md: nothing final without a signature).
AI_STATUS: dict[str, tuple[str, str | None]] = {
    "Observation": (AI_OBSERVATION_STATUS, None),
    "DiagnosticReport": (AI_REPORT_STATUS, None),
    "CarePlan": (AI_CAREPLAN_STATUS, AI_CAREPLAN_INTENT),
    "ServiceRequest": (AI_SERVICE_REQUEST_STATUS, AI_SERVICE_REQUEST_INTENT),
}

_LOCAL_REFERENCE = re.compile(r"^(urn:uuid:[0-9a-f\-]{36}|[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64})$")


def validate_resource(resource: JSON, *, ai_generated: bool = True) -> None:
    """Raise OutboundValidationError listing every problem found; return None if valid."""
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str):
        raise OutboundValidationError("resource", ["resourceType is missing"])
    problems = _structure(rtype, resource)
    problems += _common(rtype, resource, ai_generated)
    check = _CHECKS.get(rtype)
    if check is not None:
        problems += check(resource)
    if problems:
        raise OutboundValidationError(rtype, problems)


def _structure(rtype: str, resource: JSON) -> list[str]:
    try:
        model = get_fhir_model_class(rtype)
    except (KeyError, ValueError):
        model = None
    if model is None or not issubclass(model, Resource):
        return [f"unknown resource type {rtype!r}"]
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        return [
            f"{'.'.join(str(p) for p in err['loc']) or rtype}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        ]
    return []


def _common(rtype: str, resource: JSON, ai_generated: bool) -> list[str]:
    problems = []
    if rtype in IDENTIFIER_SYSTEMS:
        systems = {i.get("system") for i in resource.get("identifier", [])}
        if IDENTIFIER_SYSTEMS[rtype] not in systems:
            problems.append("business identifier missing")
    if ai_generated and rtype in AI_STATUS:
        security = resource.get("meta", {}).get("security", [])
        if not any(
            s.get("system") == codes.V3_OBSERVATION_VALUE and s.get("code") == codes.AIAST[0]
            for s in security
        ):
            problems.append("meta.security AIAST (AI-asserted) label missing")
        status, intent = AI_STATUS[rtype]
        if resource.get("status") != status:
            problems.append(f"AI output must have status {status!r}")
        if intent is not None and resource.get("intent") != intent:
            problems.append(f"AI output must have intent {intent!r}")
    for path, ref in _references(resource, rtype):
        if not _LOCAL_REFERENCE.match(ref):
            problems.append(f"{path}: reference must be 'Type/id' or a urn:uuid in the Bundle")
    return problems


def _references(node: Any, path: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "reference" and isinstance(v, str):
                found.append((path, v))
            else:
                found += _references(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += _references(v, f"{path}[{i}]")
    return found


def _codings(concept: Any) -> list[JSON]:
    return concept.get("coding", []) if isinstance(concept, dict) else []


def _has_code(concept: Any) -> bool:
    return any(c.get("system") and c.get("code") for c in _codings(concept))


def _subject_is_patient(resource: JSON) -> list[str]:
    ref = resource.get("subject", {}).get("reference", "")
    return [] if ref.startswith("Patient/") else ["subject must reference a Patient"]


def _observation(obs: JSON) -> list[str]:
    problems = _subject_is_patient(obs)
    if obs.get("status") not in OBSERVATION_STATUS:
        problems.append("status is not an ObservationStatus code")
    if not _has_code(obs.get("code")):
        problems.append("code needs a coding with system and code")
    has_value = any(k.startswith("value") for k in obs)
    if has_value == ("dataAbsentReason" in obs):
        problems.append("exactly one of value[x] and dataAbsentReason is required")
    for key in ("effectiveDateTime", "issued", "device"):
        if key not in obs:
            problems.append(f"{key} is required for our Observations")
    for i, comp in enumerate(obs.get("component", [])):
        if not comp.get("code", {}).get("coding") and not comp.get("code", {}).get("text"):
            problems.append(f"component[{i}].code is empty")
    return problems


def _report(report: JSON) -> list[str]:
    problems = _subject_is_patient(report)
    if report.get("status") not in REPORT_STATUS:
        problems.append("status is not a DiagnosticReportStatus code")
    if not any(c.get("system") == codes.LOINC for c in _codings(report.get("code"))):
        problems.append("code needs a LOINC coding")
    if not report.get("result"):
        problems.append("result must list the Observations")
    for key in ("effectiveDateTime", "issued"):
        if key not in report:
            problems.append(f"{key} is required for our DiagnosticReports")
    return problems


def _careplan(plan: JSON) -> list[str]:
    problems = _subject_is_patient(plan)
    if plan.get("status") not in REQUEST_STATUS:
        problems.append("status is not a RequestStatus code")
    if plan.get("intent") not in CAREPLAN_INTENT:
        problems.append("intent is not a CarePlanIntent code")
    if not plan.get("activity"):
        problems.append("activity must list the advice items")
    for i, act in enumerate(plan.get("activity", [])):
        detail = act.get("detail", {})
        if detail.get("status") not in ACTIVITY_STATUS:
            problems.append(f"activity[{i}].detail.status is not a CarePlanActivityStatus code")
        if not detail.get("description"):
            problems.append(f"activity[{i}].detail.description is empty")
    return problems


def _service_request(req: JSON) -> list[str]:
    problems = _subject_is_patient(req)
    if req.get("status") not in REQUEST_STATUS:
        problems.append("status is not a RequestStatus code")
    if req.get("intent") not in SERVICE_REQUEST_INTENT:
        problems.append("intent is not a RequestIntent code")
    if req.get("priority", "routine") not in REQUEST_PRIORITY:
        problems.append("priority is not a RequestPriority code")
    if not _has_code(req.get("code")):
        problems.append("code needs a coding with system and code")
    return problems


def _provenance(prov: JSON) -> list[str]:
    problems = []
    if not prov.get("target"):
        problems.append("target is required")
    if not prov.get("agent"):
        problems.append("agent is required")
    if "recorded" not in prov:
        problems.append("recorded is required")
    for i, ent in enumerate(prov.get("entity", [])):
        if ent.get("role") not in ENTITY_ROLE:
            problems.append(f"entity[{i}].role is not a ProvenanceEntityRole code")
    return problems


def _device(device: JSON) -> list[str]:
    problems = []
    if device.get("status") not in DEVICE_STATUS:
        problems.append("status is not a FHIRDeviceStatus code")
    if not device.get("version"):
        problems.append("version is required for a model Device")
    return problems


_CHECKS = {
    "Observation": _observation,
    "DiagnosticReport": _report,
    "CarePlan": _careplan,
    "ServiceRequest": _service_request,
    "Provenance": _provenance,
    "Device": _device,
}
