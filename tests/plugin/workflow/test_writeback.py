"""The workflow's adapters to the outbound mappers: advice draft -> CarePlan input, the
suggested referral, and the screening context."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np

from models.advice import AdviceDraft, Engine, Lang
from models.advice.types import AdviceItem, Citation, FactUsed, Section, Urgency
from models.clinical_facts import ClinicalFacts, DiabetesFact, DiabetesType, ImageSourceKind
from models.grader.result import (
    BinaryFinding,
    DrGrade,
    ImageGrading,
    Laterality,
    ModelInfo,
    PatientGrading,
    Quality,
)
from plugin.imaging.results import RetrievedImage
from plugin.workflow.writeback import (
    advice_engine,
    advice_for_fhir,
    screening_context,
    suggested_referral,
)

MODEL = ModelInfo(name="g", version="1")
ISSUED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def item(rule: str = "GLY-1", **kw: object) -> AdviceItem:
    fields: dict[str, object] = {
        "rule_id": rule,
        "section": Section.GLUCOSE,
        "kind": "advice",
        "urgency": Urgency.SOON,
        "text": "Intensify glucose-lowering therapy.",
        "rule_text": "Intensify glucose-lowering therapy.",
        "facts_used": (
            FactUsed(name="hba1c", value="8.4", source="Observation/7", date=date(2026, 2, 1)),
            FactUsed(name="dr_grade_max", value="2", source="right eye image Media/1"),
            FactUsed(name="population", value="general", source="advice context"),
        ),
        "citations": (
            Citation(
                source="ADA2025",
                source_title="ADA Standards of Care 2025",
                section="§6 Glycemic Goals",
                recommendation="6.5a",
                statement="An A1C goal < 7% is appropriate for many adults.",
            ),
        ),
    }
    fields.update(kw)
    return AdviceItem(**fields)  # type: ignore[arg-type]


def draft(*items: AdviceItem, engine: Engine = Engine.RULES, lang: Lang = Lang.EN) -> AdviceDraft:
    return AdviceDraft(
        patient_ref="Patient/1",
        as_of=date(2026, 3, 2),
        lang=lang,
        engine=engine,
        knowledge_base_version="2025.1.0",
        items=items,
        summary="Two things to act on.",
        model="tiny-llm" if engine == Engine.LLM else None,
    )


def test_advice_items_keep_section_citation_and_only_resource_sources() -> None:
    mapped = advice_for_fhir(draft(item(), item("MEAS-X", kind="measure", section=Section.EYE)))
    assert mapped is not None
    first = mapped.items[0]
    assert (first.section, first.section_title, first.urgency, first.rule_id) == (
        "glucose",
        "Glucose",
        "soon",
        "GLY-1",
    )
    assert first.citations == (
        "ADA Standards of Care 2025 §6 Glycemic Goals, rec. 6.5a: "
        "An A1C goal < 7% is appropriate for many adults.",
    )
    assert first.source_refs == ("Observation/7",)
    assert mapped.items[1].kind == "measure"
    assert mapped.engine == ModelInfo(name="deepdr-advice-rules", version="2025.1.0")
    assert mapped.summary == "Two things to act on."


def test_empty_drafts_map_to_nothing_and_llm_drafts_name_their_model() -> None:
    assert advice_for_fhir(draft()) is None
    zh = advice_for_fhir(draft(item(), engine=Engine.LLM, lang=Lang.ZH))
    assert zh is not None and zh.lang == "zh" and zh.items[0].section_title == "血糖控制"
    assert advice_engine(draft(engine=Engine.LLM)).name == "deepdr-advice-llm/tiny-llm"


def graded(image_id: str, eye: Laterality, grade: int, referable: bool, dme: bool = False):
    probs = [0.0] * 5
    probs[grade] = 1.0
    return ImageGrading(
        image_id=image_id,
        laterality=eye,
        quality=Quality(gradable=True, score=0.9),
        dr_grade=DrGrade(probabilities=tuple(probs), grade=grade),  # type: ignore[arg-type]
        referable=BinaryFinding(probability=0.9 if referable else 0.1, positive=referable),
        dme=BinaryFinding(probability=0.8 if dme else 0.1, positive=dme),
        model=MODEL,
    )


def test_referral_priority_follows_the_worst_referable_eye() -> None:
    def patient(*imgs: ImageGrading) -> PatientGrading:
        return PatientGrading.from_images(list(imgs), MODEL)

    assert suggested_referral(None) is None
    none = patient(graded("a", Laterality.RIGHT, 1, False), graded("b", Laterality.LEFT, 0, False))
    assert suggested_referral(none) is None
    moderate = suggested_referral(patient(graded("a", Laterality.LEFT, 2, True)))
    assert moderate is not None and moderate.priority == "routine"
    assert moderate.eyes == (Laterality.LEFT,) and "left eye: moderate NPDR" in moderate.reason
    severe = suggested_referral(
        patient(graded("a", Laterality.RIGHT, 3, True), graded("b", Laterality.LEFT, 2, True))
    )
    assert severe is not None and severe.priority == "urgent"
    assert severe.eyes == (Laterality.RIGHT, Laterality.LEFT)
    oedema = suggested_referral(patient(graded("a", Laterality.UNKNOWN, 2, True, dme=True)))
    assert oedema is not None and oedema.priority == "urgent" and oedema.eyes == ()
    assert "macular edema suspected" in oedema.reason


def retrieved(image_id: str, source: str, acquired: date | None) -> RetrievedImage:
    return RetrievedImage(
        image_id=image_id,
        source_ref=source,
        source_kind=ImageSourceKind.MEDIA,
        laterality=Laterality.RIGHT,
        laterality_source="bodySite",
        acquired=acquired,
        rgb=np.zeros((2, 2, 3), np.uint8),
        sha256="0" * 64,
    )


def test_context_uses_graded_images_only_and_their_latest_date() -> None:
    facts = ClinicalFacts(
        patient_ref="Patient/1",
        as_of=date(2026, 3, 2),
        diabetes=DiabetesFact(source="Condition/5", type=DiabetesType.TYPE2),
    )
    grading = PatientGrading.from_images([graded("m1", Laterality.RIGHT, 1, False)], MODEL)
    images = [
        retrieved("m1", "Media/1", date(2026, 2, 20)),
        retrieved("m2", "Media/2", date(2026, 2, 28)),  # not graded (failed)
    ]
    ctx = screening_context(facts, images, grading, ISSUED, "Encounter/9")
    assert ctx.image_sources == {"m1": "Media/1"}
    assert ctx.effective == datetime(2026, 2, 20, tzinfo=UTC)
    assert ctx.diabetes_condition_ref == "Condition/5" and ctx.encounter_ref == "Encounter/9"
    undated = screening_context(facts, [retrieved("m1", "Media/1", None)], grading, ISSUED)
    assert undated.effective == ISSUED
    nodiabetes = screening_context(facts.model_copy(update={"diabetes": None}), [], None, ISSUED)
    assert nodiabetes.diabetes_condition_ref is None and nodiabetes.image_sources == {}
