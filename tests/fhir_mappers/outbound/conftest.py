"""Hand-built grading results and contexts for the outbound mapper tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from fhir_mappers.outbound import AdviceForFhir, CarePlanItem, ReferralForFhir, ScreeningContext
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

MODEL = ModelInfo(name="deepdr-ref", version="0.1.0")
ENGINE = ModelInfo(name="deepdr-advice-rules", version="kb-2025.1")
EFFECTIVE = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
ISSUED = datetime(2024, 5, 1, 9, 5, tzinfo=UTC)

ImageFactory = Callable[..., ImageGrading]


def _probabilities(grade: int) -> tuple[float, float, float, float, float]:
    p = [0.025] * 5
    p[grade] = 0.9
    return (p[0], p[1], p[2], p[3], p[4])


def make_image(
    image_id: str,
    laterality: Laterality,
    *,
    grade: int | None = 2,
    gradable: bool = True,
    referable: float | None = 0.8,
    dme: float | None = 0.1,
    lesions: dict[str, tuple[float, bool]] | None = None,
    model: ModelInfo = MODEL,
    error: str | None = None,
    reasons: tuple[str, ...] = (),
) -> ImageGrading:
    if error is not None:
        return ImageGrading(image_id=image_id, laterality=laterality, model=model, error=error)
    if lesions is None:
        lesions = {"MA": (0.9, True), "HE": (0.3, False), "EX": (0.2, False), "SE": (0.1, False)}
    return ImageGrading(
        image_id=image_id,
        laterality=laterality,
        quality=Quality(gradable=gradable, score=0.92 if gradable else 0.15, reasons=reasons),
        dr_grade=DrGrade(probabilities=_probabilities(grade), grade=grade)
        if gradable and grade is not None
        else None,
        referable=BinaryFinding(probability=referable, positive=referable >= 0.5, threshold=0.5)
        if gradable and referable is not None
        else None,
        dme=BinaryFinding(probability=dme, positive=dme >= 0.5)
        if gradable and dme is not None
        else None,
        lesions={k: LesionFinding(probability=p, present=on) for k, (p, on) in lesions.items()}
        if gradable
        else {},
        model=model,
        sha256=(image_id * 64)[:64],
    )


@pytest.fixture
def image() -> ImageFactory:
    return make_image


@pytest.fixture
def grading() -> PatientGrading:
    """Right eye: moderate NPDR, referable; left eye: ungradable."""
    return PatientGrading.from_images(
        [
            make_image("r1", Laterality.RIGHT, grade=2, referable=0.8),
            make_image("l1", Laterality.LEFT, gradable=False, reasons=("too dark",)),
        ],
        MODEL,
    )


@pytest.fixture
def context() -> ScreeningContext:
    return ScreeningContext(
        patient_ref="Patient/p1",
        effective=EFFECTIVE,
        issued=ISSUED,
        image_sources={"r1": "Media/m-r1", "l1": "ImagingStudy/s-l1"},
        diabetes_condition_ref="Condition/dm",
    )


@pytest.fixture
def advice() -> AdviceForFhir:
    return AdviceForFhir(
        items=(
            CarePlanItem(
                section="glucose",
                section_title="Glucose",
                text="Aim for an HbA1c below 7%.",
                urgency="soon",
                rule_id="GLU-01",
                citations=("ADA 2025 §6, rec. 6.5b",),
                source_refs=("Observation/hba1c-1",),
            ),
            CarePlanItem(
                section="eye",
                text="Refer to ophthalmology: referable DR suspected.",
                urgency="urgent",
                rule_id="EYE-03",
                source_refs=("Observation/hba1c-1", "Condition/dm"),
            ),
        ),
        engine=ENGINE,
        summary="Two actions for this visit.",
    )


@pytest.fixture
def referral() -> ReferralForFhir:
    return ReferralForFhir(
        reason="Referable diabetic retinopathy suspected in the right eye",
        priority="urgent",
        eyes=(Laterality.RIGHT,),
    )
