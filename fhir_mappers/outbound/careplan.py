"""An advice draft -> CarePlan (status draft, intent proposal): one activity per item.

Each activity keeps what a clinician needs to check the item in a minute: the section
(code + title), the text, how soon (scheduledString: R4 CarePlan activities have no
priority element), and why (reasonCode: the rule that fired and the guideline it cites).
The facts the advice used go to CarePlan.supportingInfo.
"""

from __future__ import annotations

from fhir_mappers import codes
from fhir_mappers.outbound.common import (
    AI_CAREPLAN_INTENT,
    AI_CAREPLAN_STATUS,
    AI_NOTE,
    JSON,
    Built,
    ai_meta,
    concept,
    instant,
)
from fhir_mappers.outbound.identifiers import digest, full_url, identifier
from fhir_mappers.outbound.inputs import AdviceForFhir, CarePlanItem, ScreeningContext

URGENCY_TEXT = {
    "urgent": "Urgent: act now or within days",
    "soon": "Soon: within the next weeks",
    "routine": "Routine: at the next scheduled review",
}
MAX_SUPPORTING_INFO = 100


def advice_key(ctx: ScreeningContext, advice: AdviceForFhir) -> str:
    """Same draft for the same patient -> same CarePlan; a changed draft is a new one."""
    return digest(
        {
            "patient": ctx.patient_ref,
            "engine": [advice.engine.name, advice.engine.version],
            "lang": advice.lang,
            "items": [item.model_dump(mode="json") for item in advice.items],
        }
    )


def care_plan(advice: AdviceForFhir, ctx: ScreeningContext, key: str) -> Built:
    ident = identifier("CarePlan", key)
    plan: JSON = {
        "resourceType": "CarePlan",
        "meta": ai_meta(),
        "identifier": [ident],
        "language": advice.lang,
        "status": AI_CAREPLAN_STATUS,
        "intent": AI_CAREPLAN_INTENT,
        "category": [concept(codes.SNOMED, codes.SNOMED_DIABETES_SELF_MANAGEMENT_PLAN)],
        "title": advice.title,
        "subject": {"reference": ctx.patient_ref},
        "created": instant(ctx.issued, "issued"),
        "activity": [_activity(item) for item in advice.items],
        "note": [{"text": AI_NOTE}, *({"text": n} for n in advice.notes if n.strip())],
    }
    if advice.summary:
        plan["description"] = advice.summary
    if ctx.encounter_ref:
        plan["encounter"] = {"reference": ctx.encounter_ref}
    if ctx.diabetes_condition_ref:
        plan["addresses"] = [{"reference": ctx.diabetes_condition_ref}]
    support = _supporting(advice)
    if support:
        plan["supportingInfo"] = [{"reference": r} for r in support]
    return Built("care-plan", plan, full_url(ident))


def _activity(item: CarePlanItem) -> JSON:
    section: JSON = {
        "coding": [{"system": codes.DEEPDR_ADVICE_SECTION, "code": item.section}],
        "text": item.section_title or item.section.replace("_", " ").capitalize(),
    }
    detail: JSON = {
        "code": section,
        "status": "not-started",
        "scheduledString": URGENCY_TEXT[item.urgency],
        "description": item.text,
    }
    reason = _reason(item)
    if reason:
        detail["reasonCode"] = [reason]
    return {"detail": detail}


def _reason(item: CarePlanItem) -> JSON | None:
    reason: JSON = {}
    if item.rule_id:
        reason["coding"] = [{"system": codes.DEEPDR_ADVICE_RULE, "code": item.rule_id}]
    if item.citations:
        reason["text"] = " | ".join(item.citations)[:4000]
    return reason or None


def _supporting(advice: AdviceForFhir) -> list[str]:
    refs: list[str] = []
    for item in advice.items:
        for ref in item.source_refs:
            if ref not in refs:
                refs.append(ref)
    return refs[:MAX_SUPPORTING_INFO]
