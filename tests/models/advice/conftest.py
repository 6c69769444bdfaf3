"""Builders for advice tests: ClinicalFacts and PatientGrading from a few keywords."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from models.clinical_facts import (
    CANONICAL_UNITS,
    ClinicalFacts,
    ConditionFact,
    DiabetesFact,
    DiabetesType,
    Measurement,
    MedicationClass,
    MedicationFact,
    Sex,
    SmokingFact,
    SmokingStatus,
)
from models.grader.result import (
    BinaryFinding,
    DrGrade,
    ImageGrading,
    Laterality,
    ModelInfo,
    PatientGrading,
    Quality,
)

AS_OF = date(2025, 3, 1)
MODEL = ModelInfo(name="test-grader", version="0")
_CONDITIONS = (
    "hypertension",
    "ckd",
    "ascvd",
    "heart_failure",
    "prior_dr",
    "prior_dme",
    "pregnancy",
)


def make_facts(
    *,
    age: int | None = 55,
    sex: str = "female",
    dm: str | None = "type2",
    duration: float | None = 6.0,
    meds: tuple[str, ...] = (),
    smoking: str | None = "never",
    age_days: int = 30,
    conflicting: tuple[str, ...] = (),
    **kw: Any,
) -> ClinicalFacts:
    """Measurements by canonical name (hba1c=7.2, ...), conditions by name (ckd=True)."""
    measurements = {}
    conditions: dict[str, ConditionFact] = {}
    for key, val in kw.items():
        if key in CANONICAL_UNITS:
            if val is None:
                continue
            measurements[key] = Measurement(
                source=f"Observation/{key}",
                date=AS_OF - timedelta(days=age_days),
                value=float(val),
                unit=CANONICAL_UNITS[key],
            )
        elif key in _CONDITIONS:
            if val is not None:
                conditions[key] = ConditionFact(source=f"Condition/{key}", present=bool(val))
        elif key == "ckd_stage":
            continue
        else:
            raise TypeError(f"unknown fact keyword {key}")
    diabetes = (
        DiabetesFact(source="Condition/dm", type=DiabetesType(dm), duration_years=duration)
        if dm
        else None
    )
    return ClinicalFacts(
        patient_ref="Patient/123",
        as_of=AS_OF,
        age_years=age,
        sex=Sex(sex),
        diabetes=diabetes,
        ckd_stage=kw.get("ckd_stage"),
        smoking=SmokingFact(source="Observation/smoking", status=SmokingStatus(smoking))
        if smoking
        else None,
        measurements=measurements,
        medications=tuple(
            MedicationFact(source=f"MedicationStatement/{m}", name=m, drug_class=MedicationClass(m))
            for m in meds
        ),
        conflicting=conflicting,
        **conditions,
    )


def make_grading(*eyes: tuple[str, int | None, bool]) -> PatientGrading:
    """Each eye: (laterality, ICDR grade or None for ungradable, DME positive)."""
    images = []
    for lat, grade, dme in eyes:
        if grade is None:
            images.append(
                ImageGrading(
                    image_id=f"{lat}-1",
                    laterality=Laterality(lat),
                    quality=Quality(gradable=False, score=0.1, reasons=("blur",)),
                    model=MODEL,
                )
            )
            continue
        probs = [0.0] * 5
        probs[grade] = 0.8
        probs[(grade + 1) % 5] = 0.2
        images.append(
            ImageGrading(
                image_id=f"{lat}-1",
                laterality=Laterality(lat),
                quality=Quality(gradable=True, score=0.9),
                dr_grade=DrGrade(probabilities=tuple(probs), grade=grade),  # type: ignore[arg-type]
                referable=BinaryFinding(
                    probability=0.9 if grade >= 2 else 0.1, positive=grade >= 2
                ),
                dme=BinaryFinding(probability=0.95 if dme else 0.05, positive=dme),
                model=MODEL,
            )
        )
    return PatientGrading.from_images(images, MODEL)


@pytest.fixture
def facts_factory() -> Callable[..., ClinicalFacts]:
    return make_facts


@pytest.fixture
def grading_factory() -> Callable[..., PatientGrading]:
    return make_grading
