"""Procedure and DiagnosticReport resources -> retinal examinations and end-of-life care.

  * Procedure, status completed (in-progress too for palliative / hospice care, which is
    ongoing); not-done, stopped, entered-in-error and unknown are ignored. An eye
    examination: SNOMED CT or CPT codes of advice_codes (the CMS131 retinal exam value set),
    else display text naming a fundus photograph / retinal or dilated eye exam (warning).
    Palliative, hospice or dying care: a limited-life-expectancy record.
    The date: performedDateTime, else performedPeriod (end for a completed one, else start).
  * DiagnosticReport with LOINC 103592-2 (retinal eye screening report, ours or another
    system's), status preliminary / final / amended / corrected / appended: an eye
    examination on its effective date (else issued).
Only dated records count: an undated examination cannot say when the next one is due.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fhir_mappers.inbound import advice_codes as ac
from fhir_mappers.inbound.context import MappingContext
from fhir_mappers.inbound.fhir_json import (
    FhirTime,
    JsonObj,
    codings,
    concept_text,
    first_display,
    obj,
    parse_time,
    period_start,
    status_code,
)
from models.clinical_facts import ConditionFact, EyeExamFact

_EYE_EXAM_TEXT = re.compile(
    r"fundus photo|fundoscopy|ophthalmoscopy|retinal (?:exam|imaging|photo|screening)"
    r"|dilated (?:eye|retinal|fundus) exam|retinopathy screening|眼底照相|眼底检查|散瞳"
)
_LIFE_TEXT = re.compile(r"palliative|hospice|end[- ]of[- ]life|姑息|安宁疗护|临终")
_REPORT_STATUSES = {"preliminary", "final", "amended", "corrected", "appended", "partial"}


@dataclass(frozen=True)
class ProcedureFacts:
    eye_exam: EyeExamFact | None = None
    life: ConditionFact | None = None


def _performed(resource: JsonObj, completed: bool) -> FhirTime | None:
    t = parse_time(resource.get("performedDateTime"))
    if t is not None:
        return t
    period = obj(resource, "performedPeriod")
    if period is None:
        return None
    if completed:
        return parse_time(period.get("end")) or parse_time(period.get("start"))
    return period_start(period)


def _eye_exam_code(concept: JsonObj | None) -> tuple[str | None, bool | None, bool]:
    """(code, retinopathy finding, read from text) when the concept is an eye exam."""
    for c in codings(concept):
        if c.kind == "snomed" and c.code in ac.SNOMED_EYE_EXAM_PROCEDURES:
            return c.code, None, False
        if (c.system or "").rstrip("/") == ac.CPT_SYSTEM and c.code.upper() in ac.CPT_EYE_EXAM:
            code = c.code.upper()
            return code, ac.CPT_RETINOPATHY.get(code), False
    if _EYE_EXAM_TEXT.search(concept_text(concept)):
        return next((c.code for c in codings(concept)), None), None, True
    return None, None, False


def _life_code(concept: JsonObj | None) -> tuple[str | None, bool]:
    for c in codings(concept):
        if c.kind == "snomed" and ac.SNOMED_ADVICE_TAGS.get(c.code) == "life":
            return c.code, False
    if _LIFE_TEXT.search(concept_text(concept)):
        return next((c.code for c in codings(concept)), None), True
    return None, False


def procedure_facts(resource: JsonObj, ctx: MappingContext) -> ProcedureFacts | None:
    ref = ctx.ref(resource)
    status = status_code(resource, "status")
    concept = obj(resource, "code")
    if status in ("entered-in-error", "not-done", "stopped", "unknown"):
        if status == "entered-in-error":
            ctx.warn(ref, "ignored (status entered-in-error)")
        return None
    exam_code, finding, exam_by_text = _eye_exam_code(concept)
    if exam_code is not None or exam_by_text:
        if status not in (None, "completed"):
            return None
        when = _performed(resource, completed=True)
        if when is None:
            ctx.warn(ref, "eye examination without a date; not used")
            return None
        if exam_by_text:
            ctx.warn(ref, "code not in our tables; read from its display text as an eye exam")
        exam = EyeExamFact(
            source=ref, date=when.day, kind="Procedure", code=exam_code, retinopathy=finding
        )
        return ProcedureFacts(eye_exam=exam)
    life_code, life_by_text = _life_code(concept)
    if life_code is None and not life_by_text:
        return None
    if status not in (None, "completed", "in-progress"):
        return None
    when = _performed(resource, completed=False)
    if life_by_text:
        ctx.warn(ref, "code not in our tables; read from its display text as end-of-life care")
    fact = ConditionFact(
        source=ref,
        date=when.day if when else None,
        present=True,
        code=life_code,
        display=first_display(concept),
    )
    return ProcedureFacts(life=fact)


def report_eye_exam(resource: JsonObj, ctx: MappingContext) -> EyeExamFact | None:
    concept = obj(resource, "code")
    if not any(
        c.kind == "loinc" and c.code == ac.LOINC_RETINAL_SCREENING_REPORT for c in codings(concept)
    ):
        return None
    ref = ctx.ref(resource)
    status = status_code(resource, "status")
    if status is not None and status not in _REPORT_STATUSES:
        if status == "entered-in-error":
            ctx.warn(ref, "ignored (status entered-in-error)")
        return None
    when = (
        parse_time(resource.get("effectiveDateTime"))
        or period_start(resource.get("effectivePeriod"))
        or parse_time(resource.get("issued"))
    )
    if when is None:
        ctx.warn(ref, "retinal screening report without a date; not used")
        return None
    return EyeExamFact(
        source=ref, date=when.day, kind="DiagnosticReport", code=ac.LOINC_RETINAL_SCREENING_REPORT
    )
