"""Clinician sign-off of an AI screening, planned as one FHIR transaction (pure: no I/O).

What the clinician saw (the written resources with their versions) plus the decision ->
a transaction Bundle of updates guarded by `If-Match` (so a concurrent edit or a repeated
click fails instead of writing twice) and plain creates (the Provenance, an accepted
referral), which the same guard keeps single. No conditional creates: servers run those
with strict isolation and cap their number (Medplum: 8 entries).

Status transitions (FHIR R4 value sets, decided here once):
- sign: DiagnosticReport / Observation preliminary -> `final`; a final one whose content
  changes on a later sign-off -> `amended` (unchanged ones are not rewritten). CarePlan
  draft -> `active` with intent `plan` (the clinician's plan, not a proposal) and the
  clinician's edits; a later sign-off of an active plan keeps it `active`.
- reject: DiagnosticReport / Observation -> `cancelled` ("abandoned before it was
  complete"; not `entered-in-error`, which means a released result withdrawn), CarePlan ->
  `revoked`, any referral proposal -> `revoked`. The reason goes into the Observations'
  and CarePlan's notes, the report's conclusion (R4 DiagnosticReport has no note) and the
  Provenance (activity v3-DataOperation CANCEL).
- an accepted referral is a new ServiceRequest, status `active`, intent `order` (the
  clinician authorises it; FHIR requests do not change intent, so a proposal the AI wrote
  is `basedOn` and becomes `completed`).

AI label (HL7 AI Transparency IG): resources AI influenced keep `AIAST`; signed ones add
v3-ObservationValue `CLINAST` (clinician asserted). Rejected ones do not: the clinician
asserted nothing. The Provenance names the Practitioner (`author` when signing, `verifier`
when rejecting) and, when signing, carries a Signature of type ASTM E1762 1.2.840.10065.1.12.1.5
(Verification Signature) by that Practitioner; `data` is optional (a JWS made by the caller).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from fhir_mappers.outbound.common import JSON, check_reference, instant
from fhir_mappers.outbound.identifiers import digest
from fhir_mappers.outbound.signoff_resources import (
    FINAL_STATUSES,
    MAX_TEXT,
    REJECTED_PREFIX,
    SIGNOFF_KEY_SYSTEM,
    ReferralOrder,
    RejectDecision,
    SignDecision,
    SignoffInputError,
    comparable,
    notes_with,
    ref_of,
    referral_order,
    security_meta,
    sign_care_plan,
    sign_observation,
    sign_report,
    signoff_provenance,
    signoff_urn,
    validate_signoff_resource,
    version_of,
)

__all__ = [
    "ReferralOrder",
    "RejectDecision",
    "Reviewed",
    "SignDecision",
    "SignoffInputError",
    "SignoffPlan",
    "plan_referral",
    "plan_rejection",
    "plan_signoff",
    "signoff_key",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Reviewed(_Frozen):
    """The resources as the clinician saw them, each with `id` and `meta.versionId`."""

    report: dict[str, Any] | None = None  # None: an advice-only screening (no photographs)
    observations: tuple[dict[str, Any], ...] = ()
    care_plan: dict[str, Any] | None = None
    referral_proposal: dict[str, Any] | None = None

    def all(self) -> list[JSON]:
        out = [r for r in (self.report, *self.observations) if r is not None]
        out += [r for r in (self.care_plan, self.referral_proposal) if r is not None]
        return out


@dataclass(frozen=True)
class SignoffPlan:
    key: str  # idempotency key, also the Provenance's meta.tag
    bundle: JSON  # the transaction; empty entry list when nothing changes
    statuses: dict[str, str]  # "Type/id" -> new status, for every resource updated
    referral_full_url: str | None = None

    @property
    def empty(self) -> bool:
        return not self.bundle["entry"]


def signoff_key(reviewed: Reviewed, decision: SignDecision | RejectDecision) -> str:
    """Same reviewed versions + same decision -> same key (a repeated click finds its own
    Provenance); any other edit -> another key. The time of the click is not part of it."""
    body = decision.model_dump(mode="json", exclude={"signed_at", "rejected_at", "signature_jws"})
    versions = sorted(f"{ref_of(r)}@{version_of(r)}" for r in reviewed.all())
    return digest({"versions": versions, "decision": body, "kind": type(decision).__name__})


def _update_entry(resource: JSON, seen_version: str) -> JSON:
    # No fullUrl: the entry is addressed by request.url, and others refer to it as Type/id.
    ref = ref_of(resource)
    return {
        "resource": resource,
        "request": {"method": "PUT", "url": ref, "ifMatch": f'W/"{seen_version}"'},
    }


def _finish(updates: list[tuple[JSON, JSON]], creates: list[JSON]) -> JSON:
    """`updates`: (new, seen) pairs; creates: entries already shaped."""
    entries = [_update_entry(new, version_of(seen)) for new, seen in updates] + creates
    for entry in entries:
        validate_signoff_resource(entry["resource"])
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def plan_signoff(reviewed: Reviewed, decision: SignDecision) -> SignoffPlan:
    key = signoff_key(reviewed, decision)
    when = instant(decision.signed_at, "signed_at")
    updates: list[tuple[JSON, JSON]] = []
    if reviewed.report is None and reviewed.care_plan is None:
        raise SignoffInputError("there is nothing to sign")
    candidates = []
    if reviewed.report is not None:
        candidates.append((sign_report(reviewed.report, decision), reviewed.report))
    candidates += [(sign_observation(o, decision), o) for o in reviewed.observations]
    if reviewed.care_plan is not None:
        candidates.append((sign_care_plan(reviewed.care_plan, decision), reviewed.care_plan))
    for new, seen in candidates:
        if comparable(new) != comparable(seen) or new.get("status") != seen.get("status"):
            updates.append((new, seen))
    creates: list[JSON] = []
    referral_url = None
    if decision.referral is not None:
        if reviewed.report is None:
            raise SignoffInputError("a referral needs the graded report it rests on")
        proposal = reviewed.referral_proposal
        order = referral_order(
            reviewed.report, decision.referral, decision.practitioner_ref, when, proposal
        )
        referral_url = signoff_urn(key, "referral")
        creates.append(
            {
                "fullUrl": referral_url,
                "resource": order,
                "request": {"method": "POST", "url": "ServiceRequest"},
            }
        )
        if proposal is not None and proposal.get("status") not in ("completed", "revoked"):
            updates.append(({**proposal, "status": "completed"}, proposal))
    if not updates and not creates:
        return SignoffPlan(key, {"resourceType": "Bundle", "type": "transaction", "entry": []}, {})
    targets = [ref_of(new) for new, _ in updates] + ([referral_url] if referral_url else [])
    revisions = [f"{ref_of(seen)}/_history/{version_of(seen)}" for _, seen in updates]
    prov = signoff_provenance(
        key,
        targets,
        revisions,
        decision.practitioner_ref,
        when,
        kind="sign",
        signature_jws=decision.signature_jws,
    )
    creates.append(
        {
            "fullUrl": signoff_urn(key, "provenance"),
            "resource": prov,
            "request": {"method": "POST", "url": "Provenance"},
        }
    )
    bundle = _finish(updates, creates)
    statuses = {ref_of(new): str(new.get("status")) for new, _ in updates}
    return SignoffPlan(key, bundle, statuses, referral_url)


# --- reject -----------------------------------------------------------------------------------


def plan_rejection(reviewed: Reviewed, decision: RejectDecision) -> SignoffPlan:
    """Only AI output nobody has signed can be rejected; a signed result is amended."""
    key = signoff_key(reviewed, decision)
    when = instant(decision.rejected_at, "rejected_at")
    note = REJECTED_PREFIX + decision.reason.strip()
    report = reviewed.report
    updates: list[tuple[JSON, JSON]] = []
    if report is not None:
        if report.get("status") not in ("registered", "partial", "preliminary"):
            raise SignoffInputError(
                f"the report is {report.get('status')}; only a preliminary result can be rejected"
            )
        new_report = {**report, "status": "cancelled", "meta": security_meta(report, False)}
        new_report["conclusion"] = (f"{report.get('conclusion') or ''} {note}").strip()[:MAX_TEXT]
        updates.append((new_report, report))
    elif reviewed.care_plan is None or reviewed.care_plan.get("status") != "draft":
        raise SignoffInputError("only an unsigned AI draft can be rejected")
    for obs in reviewed.observations:
        if obs.get("status") in ("cancelled", "entered-in-error"):
            continue
        new_obs = {**obs, "status": "cancelled", "note": notes_with(obs, None, note)}
        updates.append((new_obs, obs))
    for request in (reviewed.care_plan, reviewed.referral_proposal):
        if request is not None and request.get("status") in ("draft", "active", "on-hold"):
            updates.append(
                ({**request, "status": "revoked", "note": notes_with(request, None, note)}, request)
            )
    targets = [ref_of(new) for new, _ in updates]
    revisions = [f"{ref_of(seen)}/_history/{version_of(seen)}" for _, seen in updates]
    prov = signoff_provenance(
        key, targets, revisions, decision.practitioner_ref, when, kind="reject", reason=note
    )
    creates = [
        {
            "fullUrl": signoff_urn(key, "provenance"),
            "resource": prov,
            "request": {"method": "POST", "url": "Provenance"},
        }
    ]
    bundle = _finish(updates, creates)
    return SignoffPlan(key, bundle, {ref_of(n): str(n["status"]) for n, _ in updates})


# --- a referral sent after signing ----------------------------------------------------------


def plan_referral(
    report: JSON,
    order: ReferralOrder,
    practitioner_ref: str,
    at: datetime,
    proposal: JSON | None = None,
) -> SignoffPlan:
    """The referral alone, for a result already signed: conditional creates keyed on the
    referral's identifier and the Provenance's tag (two entries), so a repeat is a no-op."""
    if report.get("status") not in FINAL_STATUSES:
        raise SignoffInputError("sign the result before sending the referral")
    when = instant(at, "sent_at")
    check_reference(practitioner_ref, "practitioner_ref", frozenset({"Practitioner"}))
    req = referral_order(report, order, practitioner_ref, when, proposal)
    ident = req["identifier"][0]
    key = digest({"referral": f"{ident['system']}|{ident['value']}"})
    url = signoff_urn(key, "referral")
    prov = signoff_provenance(key, [url], [], practitioner_ref, when, kind="order")
    entries: list[JSON] = [
        {
            "fullUrl": url,
            "resource": req,
            "request": {
                "method": "POST",
                "url": "ServiceRequest",
                "ifNoneExist": f"identifier={ident['system']}|{quote(ident['value'], safe=':')}",
            },
        },
        {
            "fullUrl": signoff_urn(key, "provenance"),
            "resource": prov,
            "request": {
                "method": "POST",
                "url": "Provenance",
                "ifNoneExist": f"_tag={SIGNOFF_KEY_SYSTEM}|{key}",
            },
        },
    ]
    for item in entries:
        validate_signoff_resource(item["resource"])
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    return SignoffPlan(key, bundle, {}, url)
