"""Per-resource steps of a clinician sign-off (pure): the signed or rejected form of each
AI-written resource, the accepted referral, the sign-off Provenance. Planned into one
transaction by `fhir_mappers.outbound.signoff`, whose docstring gives the semantics."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from fhir_mappers import codes
from fhir_mappers.outbound.common import AI_NOTE, JSON, check_reference, coding, concept
from fhir_mappers.outbound.errors import OutboundInputError
from fhir_mappers.outbound.identifiers import IDENTIFIER_SYSTEMS, digest
from fhir_mappers.outbound.validate import validate_resource

SIGNOFF_KEY_SYSTEM = f"{codes.DEEPDR_BASE}/CodeSystem/signoff-key"
"""meta.tag system of a sign-off Provenance: the sign-off's idempotency key."""
CLINAST = ("CLINAST", "clinician asserted")  # v3-ObservationValue, SecurityIntegrity
SIGNATURE_VERIFICATION = ("1.2.840.10065.1.12.1.5", "Verification Signature")
DOCUMENT_COMPLETION = "http://terminology.hl7.org/CodeSystem/v3-DocumentCompletion"
LEGALLY_AUTHENTICATED = ("LA", "legally authenticated")
DATA_OPERATION_CANCEL = ("CANCEL", "cancel")
PROVENANCE_VERIFIER = ("verifier", "Verifier")
SIGNED_NOTE = (
    "Drafted by an AI model (reference model for research and demonstration); reviewed "
    "and signed by a clinician."
)
REJECTED_PREFIX = "Rejected by a clinician: "
COMMENT_PREFIX = " Clinician's comment: "
_AI_SENTENCE = re.compile(
    r"AI-generated preliminary result \(([^)]*)\); requires review and sign-off by a clinician\."
)
SIGNABLE_REPORT = frozenset({"registered", "partial", "preliminary", "final", "amended"})
FINAL_STATUSES = frozenset({"final", "amended", "corrected", "appended"})
SIGNED_TITLES = {
    "en": "Diabetes management plan (AI-drafted, signed by a clinician)",
    "zh": "糖尿病管理方案（AI草拟，医生已签署）",
}
MAX_TEXT = 4000


class SignoffInputError(OutboundInputError):
    """The decision cannot be applied to these resources (wrong state or bad edits)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReferralOrder(_Frozen):
    priority: Literal["routine", "urgent", "asap", "stat"] = "routine"
    reason: str = Field(min_length=1, max_length=MAX_TEXT)
    eyes: tuple[Literal["left", "right"], ...] = ()
    reason_refs: tuple[str, ...] = ()  # referable-DR Observations besides the report

    @field_validator("reason_refs")
    @classmethod
    def _refs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for ref in v:
            check_reference(ref, "reason_refs", frozenset({"Observation"}))
        return v


class SignDecision(_Frozen):
    practitioner_ref: str
    signed_at: AwareDatetime
    # One text per CarePlan activity, in order; "" removes the item.
    advice_texts: tuple[str, ...] = ()
    comment: str | None = Field(default=None, max_length=MAX_TEXT)
    referral: ReferralOrder | None = None
    signature_jws: str | None = Field(default=None, repr=False)

    @field_validator("practitioner_ref")
    @classmethod
    def _practitioner(cls, v: str) -> str:
        return check_reference(v, "practitioner_ref", frozenset({"Practitioner"}))

    @field_validator("advice_texts")
    @classmethod
    def _texts(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if any(len(t) > MAX_TEXT for t in v):
            raise ValueError(f"an advice item is longer than {MAX_TEXT} characters")
        return tuple(t.strip() for t in v)


class RejectDecision(_Frozen):
    practitioner_ref: str
    rejected_at: AwareDatetime
    reason: str = Field(min_length=1, max_length=1000)

    @field_validator("practitioner_ref")
    @classmethod
    def _practitioner(cls, v: str) -> str:
        return check_reference(v, "practitioner_ref", frozenset({"Practitioner"}))


def version_of(resource: Mapping[str, Any]) -> str:
    version = (resource.get("meta") or {}).get("versionId")
    if not isinstance(version, str) or not version:
        raise SignoffInputError(f"{resource.get('resourceType')} has no meta.versionId")
    return version


def ref_of(resource: Mapping[str, Any]) -> str:
    rid = resource.get("id")
    if not isinstance(rid, str) or not rid:
        raise SignoffInputError(f"{resource.get('resourceType')} has no id")
    return check_reference(f"{resource.get('resourceType')}/{rid}", "resource")


def security_meta(resource: JSON, add_clinast: bool) -> JSON:
    meta = dict(resource.get("meta") or {})
    labels = [dict(s) for s in meta.get("security") or []]
    if add_clinast and not any(s.get("code") == CLINAST[0] for s in labels):
        labels.append(coding(codes.V3_OBSERVATION_VALUE, CLINAST))
    meta["security"] = labels
    return {k: v for k, v in meta.items() if k in ("security", "tag", "profile")}


def notes_with(resource: JSON, replacement: str | None, extra: str | None = None) -> list[JSON]:
    notes = [dict(n) for n in resource.get("note") or []]
    if replacement is not None:
        notes = [({"text": replacement} if n.get("text") == AI_NOTE else n) for n in notes]
    if extra:
        notes.append({"text": extra})
    return notes


def comparable(resource: Mapping[str, Any]) -> JSON:
    """Content without the server's bookkeeping (id, versionId, lastUpdated)."""
    out = {k: v for k, v in resource.items() if k not in ("meta", "id", "status")}
    out["security"] = (resource.get("meta") or {}).get("security") or []
    return out


# --- sign -------------------------------------------------------------------------------------


def signed_conclusion(conclusion: str | None, comment: str | None) -> str | None:
    base = (conclusion or "").split(COMMENT_PREFIX, 1)[0]
    base = _AI_SENTENCE.sub(r"AI-generated result (\1), reviewed and signed by a clinician.", base)
    text = base + (COMMENT_PREFIX + comment.strip() if comment and comment.strip() else "")
    return text[:MAX_TEXT] or None


def _signed_status(current: str, changed: bool, what: str) -> str:
    if current in FINAL_STATUSES:
        return "amended" if changed else current
    if current in ("registered", "partial", "preliminary"):
        return "final"
    raise SignoffInputError(f"the {what} is {current} and cannot be signed")


def sign_report(report: JSON, d: SignDecision) -> JSON:
    if report.get("status") not in SIGNABLE_REPORT:
        raise SignoffInputError(f"the report is {report.get('status')} and cannot be signed")
    new = dict(report)
    new["conclusion"] = signed_conclusion(report.get("conclusion"), d.comment)
    if new["conclusion"] is None:
        new.pop("conclusion")
    new["resultsInterpreter"] = [{"reference": d.practitioner_ref}]
    new["meta"] = security_meta(report, add_clinast=True)
    changed = report.get("status") in FINAL_STATUSES and comparable(new) != comparable(report)
    new["status"] = _signed_status(str(report.get("status")), changed, "report")
    return new


def sign_observation(obs: JSON, d: SignDecision) -> JSON:
    new = dict(obs)
    new["performer"] = [{"reference": d.practitioner_ref}]
    new["note"] = notes_with(obs, SIGNED_NOTE)
    new["meta"] = security_meta(obs, add_clinast=True)
    changed = obs.get("status") in FINAL_STATUSES and comparable(new) != comparable(obs)
    new["status"] = _signed_status(str(obs.get("status")), changed, "observation")
    return new


def sign_care_plan(plan: JSON, d: SignDecision) -> JSON:
    status = plan.get("status")
    if status not in ("draft", "active"):
        raise SignoffInputError(f"the care plan is {status} and cannot be signed")
    activities = list(plan.get("activity") or [])
    texts = d.advice_texts or tuple(
        str((a.get("detail") or {}).get("description", "")) for a in activities
    )
    if len(texts) != len(activities):
        raise SignoffInputError(
            f"{len(texts)} advice texts were sent for {len(activities)} advice items"
        )
    kept = []
    for activity, text in zip(activities, texts, strict=True):
        if not text:
            continue
        detail = {**(activity.get("detail") or {}), "description": text}
        kept.append({**activity, "detail": detail})
    if not kept:
        raise SignoffInputError("a signed plan needs at least one advice item")
    new = dict(plan)
    new.update(
        status="active",
        intent="plan",
        activity=kept,
        author={"reference": d.practitioner_ref},
        note=notes_with(plan, SIGNED_NOTE),
        meta=security_meta(plan, add_clinast=True),
    )
    new["title"] = SIGNED_TITLES.get(str(plan.get("language", "en"))[:2], SIGNED_TITLES["en"])
    return new


def referral_identifier(report_ref: str, order: ReferralOrder) -> JSON:
    value = "order:" + digest({"report": report_ref, "eyes": sorted(order.eyes)})
    return {"use": "official", "system": IDENTIFIER_SYSTEMS["ServiceRequest"], "value": value}


def referral_order(
    report: JSON, order: ReferralOrder, practitioner_ref: str, when: str, proposal: JSON | None
) -> JSON:
    """The accepted referral: a new ServiceRequest the clinician orders."""
    report_ref = ref_of(report)
    subject = (report.get("subject") or {}).get("reference")
    req: JSON = {
        "resourceType": "ServiceRequest",
        "meta": {
            "security": [
                coding(codes.V3_OBSERVATION_VALUE, codes.AIAST),
                coding(codes.V3_OBSERVATION_VALUE, CLINAST),
            ]
        },
        "identifier": [referral_identifier(report_ref, order)],
        "status": "active",
        "intent": "order",
        "priority": order.priority,
        "code": concept(
            codes.SNOMED, codes.SNOMED_PATIENT_REFERRAL, text="Referral to ophthalmology"
        ),
        "subject": {"reference": subject},
        "authoredOn": when,
        "requester": {"reference": practitioner_ref},
        "performerType": concept(codes.SNOMED, codes.SNOMED_OPHTHALMOLOGY),
        "reasonCode": [{"text": order.reason}],
        "reasonReference": [{"reference": r} for r in (report_ref, *order.reason_refs)],
        "note": [{"text": "Suggested by the AI grader; ordered by the signing clinician."}],
    }
    if report.get("encounter"):
        req["encounter"] = report["encounter"]
    sites = [codes.SNOMED_EYE_SITE[e] for e in order.eyes]
    if sites:
        req["bodySite"] = [concept(codes.SNOMED, s) for s in dict.fromkeys(sites)]
    if proposal is not None:
        req["basedOn"] = [{"reference": ref_of(proposal)}]
    return req


def signoff_urn(key: str, what: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{SIGNOFF_KEY_SYSTEM}|{key}|{what}')}"


ProvenanceKind = Literal["sign", "reject", "order"]
_ACTIVITY: dict[str, tuple[str, tuple[str, str]]] = {
    "sign": (DOCUMENT_COMPLETION, LEGALLY_AUTHENTICATED),
    "reject": (codes.DATA_OPERATION, DATA_OPERATION_CANCEL),
    "order": (codes.DATA_OPERATION, codes.DATA_OPERATION_CREATE),
}


def signoff_provenance(
    key: str,
    targets: Sequence[str],
    revisions: Sequence[str],
    practitioner_ref: str,
    when: str,
    *,
    kind: ProvenanceKind,
    reason: str | None = None,
    signature_jws: str | None = None,
) -> JSON:
    """`revisions`: versioned references of what the targets replace. Signing and ordering
    carry the clinician's Verification Signature; a rejection names them as verifier."""
    system, activity = _ACTIVITY[kind]
    role = PROVENANCE_VERIFIER if kind == "reject" else codes.PROVENANCE_AUTHOR
    prov: JSON = {
        "resourceType": "Provenance",
        "meta": {"tag": [{"system": SIGNOFF_KEY_SYSTEM, "code": key}]},
        "target": [{"reference": t} for t in targets],
        "occurredDateTime": when,
        "recorded": when,
        "activity": concept(system, activity),
        "agent": [
            {
                "type": {"coding": [coding(codes.PROVENANCE_PARTICIPANT_TYPE, role)]},
                "who": {"reference": practitioner_ref},
            }
        ],
    }
    if revisions:
        prov["entity"] = [{"role": "revision", "what": {"reference": r}} for r in revisions]
    if reason:
        prov["reason"] = [{"text": reason}]
    if kind != "reject":
        signature: JSON = {
            "type": [coding(codes.SIGNATURE_TYPE, SIGNATURE_VERIFICATION)],
            "when": when,
            "who": {"reference": practitioner_ref},
            "targetFormat": "application/fhir+json",
        }
        if signature_jws:
            signature["sigFormat"] = "application/jose"
            signature["data"] = base64.b64encode(signature_jws.encode("ascii")).decode("ascii")
        prov["signature"] = [signature]
    return prov


_VERSIONED = re.compile(r"^[A-Z][A-Za-z]{1,63}/[A-Za-z0-9\-.]{1,64}/_history/[A-Za-z0-9\-.]{1,64}$")


def validate_signoff_resource(resource: JSON) -> None:
    """The outbound validator, which accepts `Type/id` references only; the Provenance's
    versioned `revision` references are checked here and validated in their plain form."""
    if resource.get("resourceType") == "Provenance" and resource.get("entity"):
        plain = []
        for entity in resource["entity"]:
            ref = entity["what"]["reference"]
            if not _VERSIONED.match(ref):
                raise SignoffInputError("a revision must be a versioned reference")
            plain.append({**entity, "what": {"reference": ref.split("/_history/")[0]}})
        resource = {**resource, "entity": plain}
    validate_resource(resource, ai_generated=False)
