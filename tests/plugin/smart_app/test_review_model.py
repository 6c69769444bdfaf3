"""The review page's view model: per-eye findings, facts with sources, advice items matched
to the plan on the server."""

from __future__ import annotations

from datetime import date

from models.advice.types import (
    AdviceDraft,
    AdviceItem,
    Citation,
    Engine,
    FactUsed,
    Lang,
    Section,
    Urgency,
)
from models.clinical_facts import (
    ClinicalFacts,
    ConditionFact,
    DiabetesFact,
    DiabetesType,
    EyeExamFact,
    FrailtyFact,
    FrailtySeverity,
    Measurement,
    MedicationClass,
    MedicationFact,
    SmokingFact,
    SmokingStatus,
)
from models.grader.result import (
    BinaryFinding,
    DrGrade,
    ImageGrading,
    Laterality,
    LesionFinding,
    ModelInfo,
    PatientGrading,
    Quality,
)
from plugin.smart_app.review_model import advice_items, build_review, fact_rows, sections_of

MODEL = ModelInfo(name="m", version="1")


def graded(image_id: str, side: Laterality, grade: int = 3, gradable: bool = True) -> ImageGrading:
    probs = [0.0] * 5
    probs[grade] = 1.0
    if not gradable:
        return ImageGrading(
            image_id=image_id,
            laterality=side,
            model=MODEL,
            quality=Quality(gradable=False, score=0.1, reasons=("blurred",)),
        )
    return ImageGrading(
        image_id=image_id,
        laterality=side,
        model=MODEL,
        quality=Quality(gradable=True, score=0.9),
        dr_grade=DrGrade(
            probabilities=(probs[0], probs[1], probs[2], probs[3], probs[4]), grade=grade
        ),
        referable=BinaryFinding(probability=0.9, positive=True),
        dme=BinaryFinding(probability=0.7, positive=True),
        lesions={"HE": LesionFinding(probability=0.8, present=True, map=((0.0, 1.0), (0.5, 0.2)))},
    )


def draft() -> AdviceDraft:
    cite = Citation(
        source="ADA2025",
        source_title="ADA Standards of Care 2025",
        section="§12 Retinopathy",
        recommendation="12.5",
        statement="Refer promptly.",
    )
    items = (
        AdviceItem(
            rule_id="EYE-1",
            section=Section.EYE,
            kind="advice",
            urgency=Urgency.URGENT,
            text="Refer to ophthalmology.",
            rule_text="Refer.",
            citations=(cite,),
            facts_used=(
                FactUsed(
                    name="hba1c",
                    value="9.1",
                    unit="%",
                    source="Observation/1",
                    date=date(2025, 1, 2),
                ),
            ),
        ),
        AdviceItem(
            rule_id="GLU-1",
            section=Section.GLUCOSE,
            kind="advice",
            urgency=Urgency.SOON,
            text="Intensify therapy.",
            rule_text="Intensify.",
        ),
    )
    return AdviceDraft(
        patient_ref="Patient/1",
        as_of=date(2025, 1, 3),
        lang=Lang.EN,
        engine=Engine.RULES,
        knowledge_base_version="kb",
        items=items,
        summary="",
    )


def test_eyes_show_findings_images_and_ungradable_notes() -> None:
    grading = PatientGrading.from_images(
        [graded("r1", Laterality.RIGHT), graded("l1", Laterality.LEFT, gradable=False)], MODEL
    )
    meta = [{"image_id": "l1", "acquired": None}, {"image_id": "r1", "acquired": "2025-01-01"}]
    view = build_review(grading, None, None, meta, None)
    right, left = view.eyes
    assert right.label == "Right eye (OD)" and right.gradable
    labels = {f.label: (f.value, f.flag) for f in right.findings}
    assert labels["DR grade (ICDR)"] == ("3 — severe NPDR", "alert")
    assert labels["Macular edema (DME)"] == ("Suspected", "alert")
    assert right.images[0].index == 1 and right.images[0].lesion_maps == ("HE",)
    assert right.images[0].decisive
    assert not left.gradable and left.quality_note and "blurred" in left.quality_note
    assert view.referable_any


def test_facts_carry_dates_and_sources() -> None:
    facts = ClinicalFacts(
        patient_ref="Patient/1",
        as_of=date(2025, 1, 3),
        diabetes=DiabetesFact(
            source="Condition/9", type=DiabetesType.TYPE2, duration_years=11, onset=date(2014, 1, 1)
        ),
        measurements={
            "egfr": Measurement(
                source="Observation/5", date=date(2024, 12, 1), value=52, unit="mL/min/{1.73_m2}"
            )
        },
    )
    rows = {r.label: r for r in fact_rows(facts)}
    assert rows["Diabetes"].value == "Type 2, 11 years" and rows["Diabetes"].source == "Condition/9"
    assert rows["eGFR"].value == "52 mL/min/1.73 m²" and rows["eGFR"].date == "2024-12-01"


def test_facts_read_as_clinical_words() -> None:
    facts = ClinicalFacts(
        patient_ref="Patient/1",
        as_of=date(2025, 1, 3),
        ckd=ConditionFact(source="Condition/2", display="Chronic kidney disease stage 3B"),
        ckd_stage="3b",
        measurements={
            "alt": Measurement(source="Observation/7", value=31, unit="U/L"),
            "hba1c": Measurement(source="Observation/8", value=7.9, unit="%"),
        },
        medications=[
            MedicationFact(
                source="MedicationRequest/4",
                name="lisinopril 20 MG",
                drug_class=MedicationClass.ACEI,
            )
        ],
    )
    rows = {r.label: r for r in fact_rows(facts)}
    # The stage is said once when the coded display already names it.
    assert rows["Chronic kidney disease"].value == "Chronic kidney disease stage 3B"
    assert rows["Medication"].value == "lisinopril 20 MG (ACE inhibitor)"
    labels = [r.label for r in fact_rows(facts)]
    assert labels.index("HbA1c") < labels.index("ALT")  # clinical order, not the record's
    bare = ClinicalFacts(
        patient_ref="Patient/1",
        as_of=date(2025, 1, 3),
        ckd=ConditionFact(source="Condition/2"),
        ckd_stage="4",
    )
    assert fact_rows(bare)[0].value == "yes (stage 4)"


def test_facts_show_what_the_advice_reads_with_the_shared_words() -> None:
    facts = ClinicalFacts(
        patient_ref="Patient/1",
        as_of=date(2025, 1, 3),
        diabetes=DiabetesFact(source="Condition/9", type=DiabetesType.TYPE1, duration_years=0.4),
        smoking=SmokingFact(source="Observation/s", status=SmokingStatus.CURRENT),
        frailty=FrailtyFact(source="Observation/cfs", severity=FrailtySeverity.MODERATE, score=6),
        last_eye_exam=EyeExamFact(
            source="Procedure/e", date=date(2024, 3, 1), kind="Procedure", retinopathy=True
        ),
        measurements={
            "ldl": Measurement(
                source="Observation/3",
                value=104.9 / 38.67,
                unit="mmol/L",
                original_value=104.9,
                original_unit="mg/dL",
            ),
            "sbp": Measurement(source="Observation/4", value=147.6, unit="mm[Hg]"),
        },
    )
    rows = {r.label: r for r in fact_rows(facts)}
    assert rows["Diabetes"].value == "Type 1, under a year"
    assert rows["Smoking"].value == "current smoker"
    assert rows["Frailty"].value == "moderate, Clinical Frailty Scale 6"
    assert rows["Last eye exam"].value == "Procedure, retinopathy"
    assert rows["Last eye exam"].date == "2024-03-01"
    assert rows["Systolic BP"].value == "148 mmHg"
    assert rows["LDL cholesterol"].value == "2.7 mmol/L (sent as 104.9 mg/dL)"
    labels = [r.label for r in fact_rows(facts)]
    assert labels.index("Smoking") < labels.index("Systolic BP") < labels.index("LDL cholesterol")


def test_facts_used_read_like_the_facts_table() -> None:
    used = (
        FactUsed(name="ldl", value="2.71271", unit="mmol/L", source="Observation/3"),
        FactUsed(name="egfr", value="38.04", unit="mL/min/{1.73_m2}", source="Observation/5"),
        FactUsed(name="diabetes_duration_years", value="11.2", unit="a"),
        FactUsed(name="ckd_stage", value="3b"),
        FactUsed(name="smoking", value="current", source="Observation/s"),
        FactUsed(name="on_acei", value="yes", source="MedicationRequest/4"),
        FactUsed(name="hba1c_age_days", value="400", unit="d"),
    )
    item = draft().items[0].model_copy(update={"facts_used": used})
    (view,) = advice_items(draft().model_copy(update={"items": (item,)}), None)
    assert view.facts == (
        "LDL cholesterol: 2.7 mmol/L [Observation/3]",
        "eGFR: 38 mL/min/1.73 m² [Observation/5]",
        "Diabetes duration: 11.2 years",
        "CKD stage: 3b",
        "Smoking: current smoker [Observation/s]",
        "On ACE inhibitor: yes [MedicationRequest/4]",
        "Time since the HbA1c result: 400 days",
    )


def test_without_a_plan_the_draft_items_are_shown() -> None:
    items = advice_items(draft(), None)
    assert [i.text for i in items] == ["Refer to ophthalmology.", "Intensify therapy."]
    assert items[0].citations[0].short == "ADA2025 §12 Retinopathy, rec. 12.5"
    assert items[0].facts == ("HbA1c: 9.1 %, 2025-01-02 [Observation/1]",)
    assert [s.title for s in sections_of(items)] == ["Eye follow-up and referral", "Glucose"]


def test_with_a_signed_plan_the_form_follows_its_activities() -> None:
    plan = {
        "activity": [
            {
                "detail": {
                    "description": "Intensify therapy; review in 3 months.",
                    "code": {"text": "Glucose"},
                    "reasonCode": [{"coding": [{"code": "GLU-1"}]}],
                }
            },
        ]
    }
    (item,) = advice_items(draft(), plan)  # the eye item was removed at sign-off
    assert item.index == 0 and item.rule_id == "GLU-1"
    assert item.text == "Intensify therapy; review in 3 months."
    assert item.draft_text == "Intensify therapy." and item.urgency == "soon"
