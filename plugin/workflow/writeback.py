"""From the workflow's results to one write-back: the advice draft as the CarePlan mapper's
input, the referral a grading suggests, the screening context, and the send.

Everything written is preliminary / draft / proposal and labelled AI-asserted (the outbound
mappers do that); every entry is a conditional create on a business identifier derived
from the inputs, so running the same screening again writes nothing new.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from fhir_mappers.outbound import (
    AdviceForFhir,
    CarePlanItem,
    ReferralForFhir,
    ScreeningContext,
    WriteRequest,
    build_write_bundle,
)
from models.advice import AdviceDraft, Engine, Lang
from models.advice.types import SECTION_TITLES, AdviceItem, Citation
from models.clinical_facts import ClinicalFacts
from models.grader.result import ICDR_LABELS, ImageGrading, Laterality, ModelInfo, PatientGrading
from plugin.fhir.errors import FhirInvalid
from plugin.fhir.gateway import FhirGateway
from plugin.fhir.writeback import write
from plugin.imaging.results import RetrievedImage
from plugin.workflow.types import WriteBackResult

log = logging.getLogger(__name__)

RULES_ENGINE_NAME = "deepdr-advice-rules"
LLM_ENGINE_PREFIX = "deepdr-advice-llm"
# When one transaction is refused as too large (Medplum 4.5 caps transactions that hold
# conditional creates at 8 entries), the write is retried split into parts this size.
FALLBACK_MAX_ENTRIES = 8
TITLES = {
    Lang.EN: "Diabetes management advice (AI draft)",
    Lang.ZH: "糖尿病管理建议（AI草稿）",
}
_REFERENCE = re.compile(r"^[A-Z][A-Za-z]{1,63}/[A-Za-z0-9\-.]{1,64}$")
_RULE_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
_IMAGE_SOURCES = ("ImagingStudy/", "Media/", "DocumentReference/")
_EYE = {Laterality.RIGHT: "right eye", Laterality.LEFT: "left eye", Laterality.UNKNOWN: "eye"}


# --- advice -> CarePlan input ---------------------------------------------------------------


def advice_engine(draft: AdviceDraft) -> ModelInfo:
    """The Device the CarePlan names: the rules engine at its knowledge-base version, or
    the language model that phrased the rules' items."""
    if draft.engine == Engine.LLM:
        return ModelInfo(
            name=f"{LLM_ENGINE_PREFIX}/{draft.model or 'unknown'}"[:200],
            version=draft.knowledge_base_version,
        )
    return ModelInfo(name=RULES_ENGINE_NAME, version=draft.knowledge_base_version)


def advice_for_fhir(draft: AdviceDraft) -> AdviceForFhir | None:
    """None when the draft has no items (nothing to put in a CarePlan)."""
    if not draft.items:
        return None
    return AdviceForFhir(
        items=tuple(_item(i, draft.lang) for i in draft.items[:200]),
        engine=advice_engine(draft),
        lang=draft.lang.value,
        title=TITLES[draft.lang],
        summary=draft.summary[:4000] or None,
        notes=tuple(n[:4000] for n in draft.verifier_notes[:5] if n.strip()),
    )


def _item(item: AdviceItem, lang: Lang) -> CarePlanItem:
    refs = [f.source for f in item.facts_used if f.source and _REFERENCE.match(f.source)]
    return CarePlanItem(
        section=item.section.value,
        section_title=SECTION_TITLES[item.section][lang],
        text=item.text[:4000],
        kind="measure" if item.kind == "measure" else "advice",
        urgency=item.urgency.value,
        rule_id=item.rule_id if _RULE_ID.match(item.rule_id) else None,
        citations=tuple(_citation(c) for c in item.citations),
        source_refs=tuple(dict.fromkeys(refs)),
    )


def _citation(c: Citation) -> str:
    rec = f", rec. {c.recommendation}" if c.recommendation else ""
    return f"{c.source_title} {c.section}{rec}: {c.statement}"[:4000]


# --- referral ---------------------------------------------------------------------------------


def suggested_referral(grading: PatientGrading | None) -> ReferralForFhir | None:
    """An ophthalmology referral when any eye's decisive image is referable: urgent for
    severe NPDR or worse or suspected macular edema, else routine."""
    if grading is None:
        return None
    referable: list[tuple[Laterality, ImageGrading]] = []
    for eye in grading.eyes:
        img = eye.decisive
        if img is not None and img.referable is not None and img.referable.positive:
            referable.append((eye.laterality, img))
    if not referable:
        return None
    urgent = any(
        (img.dr_grade is not None and img.dr_grade.grade >= 3)
        or (img.dme is not None and img.dme.positive)
        for _, img in referable
    )
    findings = "; ".join(f"{_EYE[lat]}: {_finding(img)}" for lat, img in referable)
    return ReferralForFhir(
        reason=f"Referable diabetic retinopathy suspected by AI screening ({findings}).",
        priority="urgent" if urgent else "routine",
        eyes=tuple(lat for lat, _ in referable if lat != Laterality.UNKNOWN),
        note="Suggested by the AI grader; confirm the grading before sending.",
    )


def _finding(img: ImageGrading) -> str:
    parts = [ICDR_LABELS[img.dr_grade.grade]] if img.dr_grade is not None else []
    if img.dme is not None and img.dme.positive:
        parts.append("macular edema suspected")
    return ", ".join(parts) or "referable"


# --- the write --------------------------------------------------------------------------------


def screening_context(
    facts: ClinicalFacts,
    images: Sequence[RetrievedImage],
    grading: PatientGrading | None,
    issued: datetime,
    encounter_ref: str | None = None,
) -> ScreeningContext:
    graded = {i.image_id for e in grading.eyes for i in e.images} if grading else set()
    used = [img for img in images if img.image_id in graded]
    sources = {
        img.image_id: img.source_ref
        for img in used
        if img.source_ref.startswith(_IMAGE_SOURCES) and _REFERENCE.match(img.source_ref)
    }
    acquired = [img.acquired for img in used if img.acquired is not None]
    diabetes = facts.diabetes.source if facts.diabetes else None
    return ScreeningContext(
        patient_ref=facts.patient_ref,
        effective=_at_midnight(max(acquired)) if acquired else issued,
        issued=issued,
        image_sources=sources,
        encounter_ref=encounter_ref,
        diabetes_condition_ref=(
            diabetes
            if diabetes and diabetes.startswith("Condition/") and _REFERENCE.match(diabetes)
            else None
        ),
    )


def _at_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def write_back(
    gateway: FhirGateway,
    context: ScreeningContext,
    grading: PatientGrading | None,
    advice: AdviceForFhir | None,
    referral: ReferralForFhir | None = None,
    *,
    max_entries: int | None = None,
) -> WriteBackResult:
    """One transaction of conditional creates (or parts of `max_entries`). A single
    transaction the server refuses (HTTP 400/422) is all-or-nothing, so it is retried split
    into parts of FALLBACK_MAX_ENTRIES: every part is still conditional, but atomicity
    across the parts is lost."""
    if grading is None and advice is None:
        return WriteBackResult()
    request = WriteRequest(
        context=context,
        grading=grading,
        advice=advice,
        referral=referral if grading is not None else None,
    )
    built = build_write_bundle(request)
    try:
        result = write(gateway, built, max_entries=max_entries)
    except FhirInvalid:
        if max_entries is not None or len(built.entries) <= FALLBACK_MAX_ENTRIES:
            raise
        log.info(
            "write-back of %d entries refused as one transaction; retrying in parts of %d",
            len(built.entries),
            FALLBACK_MAX_ENTRIES,
        )
        result = write(gateway, built, max_entries=FALLBACK_MAX_ENTRIES)
    return WriteBackResult(dict(result.references), dict(result.created), result.transactions)
