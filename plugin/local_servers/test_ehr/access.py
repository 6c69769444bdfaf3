"""Scope enforcement for the test EHR's FHIR proxy: which SMART interaction (c r u d s) a FHIR
REST request is, whether the token's scopes permit it, and, for patient-level grants, that it
stays inside the patient in context. Pure functions: no Flask, no HTTP."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from smart_launch.scopes import GrantedScopes
from smart_launch.tokens import FHIR_ID_RE

PATIENT_SEARCH_PARAMS = ("patient", "subject", "subject:Patient", "patient:Patient")


@dataclass(frozen=True)
class FhirInteraction:
    resource_type: str  # "*" for system-level interactions
    interaction: str  # one of c r u d s
    resource_id: str | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    # Patient-level read by id of a non-Patient resource: the response must be checked.
    check_response_patient: bool = False


def classify(method: str, parts: Sequence[str]) -> FhirInteraction | None:
    """Map a request on `{base}/{parts...}` to a SMART interaction; None if unknown."""
    method = method.upper()
    if not parts:
        return FhirInteraction("*", "s") if method == "GET" else None
    rtype = parts[0]
    if rtype == "_history" and len(parts) == 1:
        return FhirInteraction("*", "s") if method == "GET" else None
    if not (rtype.isalpha() and rtype[:1].isupper()):
        return None
    rest = list(parts[1:])
    if not rest:
        return {
            "GET": FhirInteraction(rtype, "s"),
            "POST": FhirInteraction(rtype, "c"),
            "PUT": FhirInteraction(rtype, "u"),  # conditional update
            "DELETE": FhirInteraction(rtype, "d"),  # conditional delete
        }.get(method)
    if rest[0] == "_search" and method == "POST":
        return FhirInteraction(rtype, "s")
    if rest[0] == "_history" and method == "GET":
        return FhirInteraction(rtype, "s")
    if rest[0].startswith("$"):
        return FhirInteraction(rtype, "r")
    rid = rest[0]
    if not FHIR_ID_RE.match(rid):
        return None  # also keeps `..` and encoded slashes out of the upstream URL
    if len(rest) == 1:
        return {
            "GET": FhirInteraction(rtype, "r", rid),
            "PUT": FhirInteraction(rtype, "u", rid),
            "PATCH": FhirInteraction(rtype, "u", rid),
            "DELETE": FhirInteraction(rtype, "d", rid),
        }.get(method)
    if method == "GET" and (rest[1] == "_history" or rest[1].startswith("$")):
        return FhirInteraction(rtype, "r", rid)
    return None


def refers_to_patient(resource: Mapping[str, Any], patient_id: str) -> bool:
    if resource.get("resourceType") == "Patient":
        return resource.get("id") == patient_id
    wanted = (f"Patient/{patient_id}",)
    for field in ("subject", "patient", "beneficiary"):
        ref = resource.get(field)
        if isinstance(ref, Mapping) and isinstance(ref.get("reference"), str):
            if ref["reference"].endswith(wanted):
                return True
    return False


def _query_names_patient(query: Sequence[tuple[str, str]], patient_id: str) -> bool:
    for name, value in query:
        if name in PATIENT_SEARCH_PARAMS:
            values = value.split(",")
            if values and all(v in (patient_id, f"Patient/{patient_id}") for v in values):
                return True
    return False


def decide(
    granted: GrantedScopes,
    patient_id: str | None,
    request: FhirInteraction,
    query: Sequence[tuple[str, str]] = (),
    body: Mapping[str, Any] | None = None,
) -> Decision:
    rtype, letter = request.resource_type, request.interaction
    needed = f"{rtype}.{letter}"
    if granted.allows(rtype, letter, context="user") or granted.allows(
        rtype, letter, context="system"
    ):
        return Decision(True)
    if not granted.allows(rtype, letter, context="patient"):
        return Decision(False, f"no granted scope permits {needed}")
    if patient_id is None:
        return Decision(False, "patient-level scope but no patient in context")
    # Patient-level grant: confine the request to the patient in context.
    if rtype == "Patient":
        if letter == "s":
            ok = ("_id", patient_id) in query or _query_names_patient(query, patient_id)
            return Decision(ok, "" if ok else "search must be limited to the patient in context")
        if request.resource_id is not None and request.resource_id != patient_id:
            return Decision(False, "patient-level scope covers only the patient in context")
        if letter in ("c", "d"):
            return Decision(False, "patient-level scope cannot create or delete patients")
        return Decision(True)
    if letter == "s":
        ok = _query_names_patient(query, patient_id)
        return Decision(ok, "" if ok else "search must name the patient in context")
    if letter in ("c", "u"):
        if body is None or not refers_to_patient(body, patient_id):
            return Decision(False, "resource must belong to the patient in context")
        return Decision(True)
    if letter == "r":
        return Decision(True, check_response_patient=True)
    return Decision(False, "patient-level scope cannot delete here")


def decide_bundle(
    granted: GrantedScopes, patient_id: str | None, bundle: Mapping[str, Any]
) -> Decision:
    """A batch/transaction is checked entry by entry (SMART has no scope for the wrapper)."""
    if bundle.get("type") not in ("batch", "transaction"):
        return Decision(False, "only batch or transaction bundles can be posted to the base")
    for entry in bundle.get("entry") or []:
        req = entry.get("request") if isinstance(entry, Mapping) else None
        if not isinstance(req, Mapping) or not isinstance(req.get("url"), str):
            return Decision(False, "bundle entry without request.url")
        url = urlsplit(req["url"])
        parts = [p for p in url.path.split("/") if p]
        interaction = classify(str(req.get("method", "")), parts)
        if interaction is None:
            return Decision(False, "bundle entry is not a supported interaction")
        resource = entry.get("resource")
        decision = decide(
            granted,
            patient_id,
            interaction,
            parse_qsl(url.query, keep_blank_values=True),
            resource if isinstance(resource, Mapping) else None,
        )
        if not decision.allowed:
            return decision
        if decision.check_response_patient:
            return Decision(False, "patient-level reads by id are not allowed inside bundles")
    return Decision(True)
