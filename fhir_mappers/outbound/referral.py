"""A suggested ophthalmology referral -> ServiceRequest (status draft, intent proposal).

code: SNOMED 3457005 "Patient referral" (root of the FHIR "SNOMED CT Patient Referral" value
set) with the specific service in text; performerType: SNOMED Ophthalmology. We did not
find a source that confirms the id of "Referral to ophthalmologist", so we do not guess it.
reasonReference points at the DiagnosticReport and the referable-DR Observations when they
are written in the same transaction.
"""

from __future__ import annotations

from fhir_mappers import codes
from fhir_mappers.outbound.common import (
    AI_NOTE,
    AI_SERVICE_REQUEST_INTENT,
    AI_SERVICE_REQUEST_STATUS,
    JSON,
    Built,
    ai_meta,
    concept,
    instant,
)
from fhir_mappers.outbound.identifiers import digest, full_url, identifier
from fhir_mappers.outbound.inputs import ReferralForFhir, ScreeningContext


def referral_key(ctx: ScreeningContext, referral: ReferralForFhir, basis: str) -> str:
    """`basis` is what the referral rests on (the screening key), so the same screening's
    referral is written once."""
    return digest(
        {
            "patient": ctx.patient_ref,
            "basis": basis,
            "eyes": sorted(e.value for e in referral.eyes),
            "priority": referral.priority,
        }
    )


def service_request(
    referral: ReferralForFhir, ctx: ScreeningContext, key: str, reasons: list[str]
) -> Built:
    ident = identifier("ServiceRequest", key)
    req: JSON = {
        "resourceType": "ServiceRequest",
        "meta": ai_meta(),
        "identifier": [ident],
        "status": AI_SERVICE_REQUEST_STATUS,
        "intent": AI_SERVICE_REQUEST_INTENT,
        "priority": referral.priority,
        "code": concept(
            codes.SNOMED, codes.SNOMED_PATIENT_REFERRAL, text="Referral to ophthalmology"
        ),
        "subject": {"reference": ctx.patient_ref},
        "authoredOn": instant(ctx.issued, "issued"),
        "performerType": concept(codes.SNOMED, codes.SNOMED_OPHTHALMOLOGY),
        "reasonCode": [{"text": referral.reason}],
        "note": [{"text": AI_NOTE}],
    }
    if referral.note:
        req["note"].append({"text": referral.note})
    if ctx.encounter_ref:
        req["encounter"] = {"reference": ctx.encounter_ref}
    if reasons:
        req["reasonReference"] = [{"reference": r} for r in reasons]
    sites = [
        codes.SNOMED_EYE_SITE[e.value] for e in referral.eyes if e.value in codes.SNOMED_EYE_SITE
    ]
    if sites:
        req["bodySite"] = [concept(codes.SNOMED, s) for s in dict.fromkeys(sites)]
    return Built("service-request", req, full_url(ident))
