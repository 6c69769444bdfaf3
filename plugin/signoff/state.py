"""Where a screening's write-back stands on the FHIR server: the resources with their
versions (what a sign-off page shows and guards with If-Match), whether it was signed or
rejected, by whom and when (the latest sign-off Provenance), and any referral ordered."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fhir_mappers.outbound.identifiers import IDENTIFIER_SYSTEMS
from fhir_mappers.outbound.signoff import Reviewed
from fhir_mappers.outbound.signoff_resources import SIGNOFF_KEY_SYSTEM
from plugin.fhir.errors import FhirAuthError, FhirInvalid
from plugin.fhir.gateway import FhirGateway

JSON = dict[str, Any]
ReviewStatus = Literal["unsigned", "signed", "amended", "rejected", "other"]
_REF = re.compile(r"^([A-Z][A-Za-z]{1,63})/([A-Za-z0-9\-.]{1,64})$")
MAX_OBSERVATIONS = 40


def split_ref(ref: str) -> tuple[str, str]:
    m = _REF.match(ref)
    if m is None:
        raise ValueError(f"not a Type/id reference: {ref[:80]!r}")
    return m.group(1), m.group(2)


@dataclass(frozen=True)
class WrittenRefs:
    """What a screening wrote (the workflow's `written` map, by entry name): a report and/or
    a care plan (an advice-only screening writes no report)."""

    report: str | None
    care_plan: str | None = None
    referral_proposal: str | None = None

    @classmethod
    def from_written(cls, written: Mapping[str, str]) -> WrittenRefs | None:
        report, plan = written.get("diagnostic-report"), written.get("care-plan")
        if not report and not plan:
            return None
        return cls(report=report, care_plan=plan, referral_proposal=written.get("service-request"))

    @property
    def anchor(self) -> str:
        """What the sign-off Provenances target first: the report, else the plan."""
        anchor = self.report or self.care_plan
        assert anchor is not None  # from_written guarantees one of them
        return anchor


@dataclass(frozen=True)
class SignoffRecord:
    """The latest sign-off act: "signed" (incl. amended), "rejected" or "ordered"."""

    kind: Literal["signed", "rejected", "ordered"]
    practitioner: str | None
    recorded: str | None
    reason: str | None
    key: str


@dataclass(frozen=True)
class ReviewState:
    reviewed: Reviewed
    status: ReviewStatus
    last: SignoffRecord | None = None
    referral_order: JSON | None = None

    @property
    def versions(self) -> dict[str, str]:
        return {
            f"{r['resourceType']}/{r['id']}": str(r["meta"]["versionId"])
            for r in self.reviewed.all()
        }

    @property
    def signable(self) -> bool:
        return self.status in ("unsigned", "signed", "amended")


def plan_status(plan: Mapping[str, Any]) -> ReviewStatus:
    return {"draft": "unsigned", "active": "signed", "revoked": "rejected"}.get(
        str(plan.get("status")), "other"
    )  # type: ignore[return-value]


def report_status(report: Mapping[str, Any]) -> ReviewStatus:
    status = report.get("status")
    if status in ("registered", "partial", "preliminary"):
        return "unsigned"
    if status == "final":
        return "signed"
    if status in ("amended", "corrected", "appended"):
        return "amended"
    if status in ("cancelled", "entered-in-error"):
        return "rejected"
    return "other"


def load_review(gateway: FhirGateway, refs: WrittenRefs) -> ReviewState:
    report = gateway.read(*split_ref(refs.report)) if refs.report else None
    observations = []
    for item in ((report or {}).get("result") or [])[:MAX_OBSERVATIONS]:
        ref = item.get("reference") if isinstance(item, dict) else None
        if isinstance(ref, str) and _REF.match(ref):
            observations.append(gateway.read(*split_ref(ref)))
    care_plan = gateway.read(*split_ref(refs.care_plan)) if refs.care_plan else None
    proposal = gateway.read(*split_ref(refs.referral_proposal)) if refs.referral_proposal else None
    reviewed = Reviewed(
        report=report,
        observations=tuple(observations),
        care_plan=care_plan,
        referral_proposal=proposal,
    )
    return ReviewState(
        reviewed=reviewed,
        status=report_status(report) if report else plan_status(care_plan or {}),
        last=latest_signoff(gateway, refs.anchor),
        referral_order=referral_order_for(gateway, report) if report else None,
    )


def latest_signoff(gateway: FhirGateway, target_ref: str) -> SignoffRecord | None:
    try:
        found = gateway.search("Provenance", [("target", target_ref), ("_count", "50")])
    except (FhirAuthError, FhirInvalid):
        return None  # not permitted or not supported: the status alone still tells
    ours = [p for p in found.resources if tag_of(p) is not None]
    if not ours:
        return None
    prov = max(ours, key=lambda p: str(p.get("recorded") or ""))
    code = ((prov.get("activity") or {}).get("coding") or [{}])[0].get("code")
    kind: Literal["signed", "rejected", "ordered"] = (
        "rejected" if code == "CANCEL" else "ordered" if code == "CREATE" else "signed"
    )
    who = next(
        (
            a["who"]["reference"]
            for a in prov.get("agent") or []
            if isinstance(a.get("who"), dict)
            and str(a["who"].get("reference", "")).startswith("Practitioner/")
        ),
        None,
    )
    reason = ((prov.get("reason") or [{}])[0]).get("text")
    return SignoffRecord(kind, who, prov.get("recorded"), reason, str(tag_of(prov)))


def tag_of(provenance: Mapping[str, Any]) -> str | None:
    for tag in (provenance.get("meta") or {}).get("tag") or []:
        if isinstance(tag, dict) and tag.get("system") == SIGNOFF_KEY_SYSTEM:
            return str(tag.get("code"))
    return None


def find_signoff(gateway: FhirGateway, key: str) -> JSON | None:
    """Our sign-off Provenance with this key, if a sign-off with it was written."""
    found = gateway.search("Provenance", [("_tag", f"{SIGNOFF_KEY_SYSTEM}|{key}")])
    return found.resources[0] if found.resources else None


def referral_order_for(gateway: FhirGateway, report: Mapping[str, Any]) -> JSON | None:
    """An active referral order resting on this report, if one was sent."""
    subject = (report.get("subject") or {}).get("reference")
    if not isinstance(subject, str):
        return None
    system = IDENTIFIER_SYSTEMS["ServiceRequest"]
    try:
        found = gateway.search(
            "ServiceRequest", [("subject", subject), ("identifier", f"{system}|")]
        )
    except (FhirAuthError, FhirInvalid):
        return None
    report_ref = f"DiagnosticReport/{report.get('id')}"
    for req in found.resources:
        reasons = {r.get("reference") for r in req.get("reasonReference") or []}
        if req.get("intent") == "order" and report_ref in reasons:
            return req
    return None
