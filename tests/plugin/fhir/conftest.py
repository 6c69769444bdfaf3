"""A write request for the gateway / write-back tests: a patient's two eyes graded (right
referable, left ungradable), an advice draft and a referral."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from fhir_mappers.outbound import (
    AdviceForFhir,
    CarePlanItem,
    ReferralForFhir,
    ScreeningContext,
    WriteRequest,
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

MODEL = ModelInfo(name="deepdr-ref", version="0.1.0")
ENGINE = ModelInfo(name="deepdr-advice-rules", version="kb-1")


def _image(image_id: str, side: Laterality, gradable: bool) -> ImageGrading:
    if not gradable:
        quality = Quality(gradable=False, score=0.1, reasons=("blurred",))
        return ImageGrading(
            image_id=image_id, laterality=side, quality=quality, model=MODEL, sha256=image_id * 4
        )
    return ImageGrading(
        image_id=image_id,
        laterality=side,
        quality=Quality(gradable=True, score=0.9),
        dr_grade=DrGrade(probabilities=(0.02, 0.03, 0.85, 0.05, 0.05), grade=2),
        referable=BinaryFinding(probability=0.83, positive=True, threshold=0.5),
        dme=BinaryFinding(probability=0.12, positive=False),
        lesions={
            "MA": LesionFinding(probability=0.9, present=True),
            "HE": LesionFinding(probability=0.6, present=True),
        },
        model=MODEL,
        sha256=image_id * 4,
    )


WriteRequestFactory = Callable[..., WriteRequest]


@pytest.fixture
def write_request() -> WriteRequestFactory:
    def make(
        patient_ref: str,
        *,
        eyes: tuple[str, ...] = ("right", "left"),
        image_sources: dict[str, str] | None = None,
        advice: bool = True,
        referral: bool = True,
        condition_ref: str | None = None,
        fact_refs: tuple[str, ...] = (),
    ) -> WriteRequest:
        images = []
        if "right" in eyes:
            images.append(_image("right-1", Laterality.RIGHT, gradable=True))
        if "left" in eyes:
            images.append(_image("left-1", Laterality.LEFT, gradable=False))
        context = ScreeningContext(
            patient_ref=patient_ref,
            effective=datetime(2024, 5, 1, 9, 0, tzinfo=UTC),
            issued=datetime(2024, 5, 1, 9, 5, tzinfo=UTC),
            image_sources={
                k: v for k, v in (image_sources or {}).items() if k in {i.image_id for i in images}
            },
            diabetes_condition_ref=condition_ref,
        )
        plan = AdviceForFhir(
            items=(
                CarePlanItem(
                    section="glucose",
                    text="Aim for an HbA1c below 7%.",
                    rule_id="GLU-01",
                    source_refs=fact_refs,
                ),
                CarePlanItem(
                    section="eye",
                    text="Refer to ophthalmology.",
                    urgency="urgent",
                    rule_id="EYE-03",
                ),
            ),
            engine=ENGINE,
        )
        return WriteRequest(
            context=context,
            grading=PatientGrading.from_images(images, MODEL),
            advice=plan if advice else None,
            referral=ReferralForFhir(
                reason="Referable DR suspected", priority="urgent", eyes=(Laterality.RIGHT,)
            )
            if referral
            else None,
        )

    return make
