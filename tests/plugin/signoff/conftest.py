"""A preliminary write-back on the real FHIR server (what a screening leaves for sign-off)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
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
from plugin.fhir import HttpFhirGateway
from plugin.signoff import WrittenRefs
from plugin.workflow.writeback import write_back

MODEL = ModelInfo(name="signoff-test-grader", version="0.0.1")
ENGINE = ModelInfo(name="deepdr-advice-rules", version="2025.1.0")


def image(image_id: str, side: Laterality, grade: int, referable: float) -> ImageGrading:
    probs = [0.025] * 5
    probs[grade] = 0.9
    return ImageGrading(
        image_id=image_id,
        laterality=side,
        quality=Quality(gradable=True, score=0.9),
        dr_grade=DrGrade(
            probabilities=(probs[0], probs[1], probs[2], probs[3], probs[4]), grade=grade
        ),
        referable=BinaryFinding(probability=referable, positive=referable >= 0.5, threshold=0.5),
        dme=BinaryFinding(probability=0.1, positive=False),
        lesions={"MA": LesionFinding(probability=0.8, present=True)},
        model=MODEL,
        sha256=uuid.uuid4().hex * 2,  # new images each time: a new screening
    )


ADVICE = AdviceForFhir(
    items=(
        CarePlanItem(
            section="glucose",
            text="Aim for an HbA1c below 7%.",
            rule_id="GLU-01",
            citations=("ADA 2025 §6: individualise the target",),
        ),
        CarePlanItem(
            section="eye", text="Refer to ophthalmology.", urgency="urgent", rule_id="EYE-03"
        ),
    ),
    engine=ENGINE,
)


@pytest.fixture
def gateway(fhir_base_url: str) -> Iterator[HttpFhirGateway]:
    with HttpFhirGateway(fhir_base_url, timeout_s=30) as gw:
        yield gw


@pytest.fixture
def written(gateway: HttpFhirGateway, fhir_base_url: str) -> Callable[..., WrittenRefs]:
    """A fresh patient with a preliminary report (right eye referable), draft CarePlan and,
    with `proposal=True`, the AI's referral proposal."""

    def make(proposal: bool = False) -> WrittenRefs:
        pid = f"signoff-{uuid.uuid4().hex[:10]}"
        httpx.put(
            f"{fhir_base_url}/Patient/{pid}",
            json={"resourceType": "Patient", "id": pid},
            timeout=30,
        ).raise_for_status()
        grading = PatientGrading.from_images(
            [image("r1", Laterality.RIGHT, 2, 0.8), image("l1", Laterality.LEFT, 0, 0.1)], MODEL
        )
        now = datetime.now(UTC)
        ctx = ScreeningContext(patient_ref=f"Patient/{pid}", effective=now, issued=now)
        referral = (
            ReferralForFhir(reason="Referable DR suspected, right eye", eyes=(Laterality.RIGHT,))
            if proposal
            else None
        )
        result = write_back(gateway, ctx, grading, ADVICE, referral)
        refs = WrittenRefs.from_written(result.references)
        assert refs is not None
        return refs

    return make
