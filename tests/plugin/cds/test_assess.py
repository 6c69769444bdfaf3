"""Screening due: diabetic, no retinal-exam evidence within 12 months, and every source of
evidence obtained; the evidence kinds; the SMART app context."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from fhir_mappers.inbound import advice_codes
from plugin.cds import codes
from plugin.cds.assess import (
    EVIDENCE_KEYS,
    app_context,
    exam_dates,
    recent_exam,
    screening_due,
)
from plugin.cds.background import Pending
from plugin.cds.grading import ImageState
from plugin.cds.services import patient_view_service
from plugin.workflow.record import build_record

TODAY = date(2026, 3, 2)
PATIENT = {"resourceType": "Patient", "id": "p1", "birthDate": "1960-01-01"}
REF = "Patient/p1"


def record(kit: Any, *resources: dict[str, Any], diabetic: bool = True) -> Any:
    found = [kit.diabetes(REF)] if diabetic else []
    return build_record(REF, PATIENT, [*found, *resources], TODAY)


def procedure(
    code: str, when: str, *, status: str = "completed", subject: str = REF
) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "status": status,
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": code}]},
        "subject": {"reference": subject},
        "performedDateTime": when,
    }


def cpt_procedure(code: str, when: str) -> dict[str, Any]:
    return {
        **procedure("x", when),
        "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": code}]},
    }


def dr_observation(when: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "71491-5"}]},
        "subject": {"reference": REF},
        "effectiveDateTime": when,
        "valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": "LA18643-9"}]},
    }


def test_a_diabetic_patient_without_any_exam_is_due(kit: Any) -> None:
    due = screening_due(record(kit), EVIDENCE_KEYS, TODAY)
    assert due is not None and due.last_exam is None


def test_no_diabetes_no_reminder(kit: Any) -> None:
    assert screening_due(record(kit, diabetic=False), EVIDENCE_KEYS, TODAY) is None


@pytest.mark.parametrize("key", EVIDENCE_KEYS)
def test_no_reminder_when_evidence_could_not_be_obtained(kit: Any, key: str) -> None:
    obtained = [k for k in EVIDENCE_KEYS if k != key]
    assert screening_due(record(kit), obtained, TODAY) is None


@pytest.mark.parametrize(
    "evidence",
    [
        lambda kit: procedure("722161008", "2025-09-01"),  # diabetic retinal eye exam
        lambda kit: procedure("20067007", "2025-04-01T09:30:00Z"),  # fundus photography
        lambda kit: {
            **procedure("x", "2025-06-01"),
            "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "92229"}]},
        },
        lambda kit: procedure("134395001", "2025-05-01"),  # diabetic retinopathy screening
        lambda kit: cpt_procedure("2033F", "2025-07-01"),  # CPT II: 7-field-matched imaging
        lambda kit: cpt_procedure("2022F", "2025-07-01"),  # CPT II: dilated retinal exam
        lambda kit: dr_observation("2025-12-24"),
        lambda kit: kit.media(REF, "right", kit.photo(20), created="2025-10-01"),
    ],
)
def test_recent_evidence_of_an_exam_means_not_due(kit: Any, evidence: Any) -> None:
    found = evidence(kit)
    rec = record(kit, {**found, "id": "e1"})
    assert screening_due(rec, EVIDENCE_KEYS, TODAY) is None
    assert recent_exam(rec, TODAY) is not None


def test_exam_evidence_is_the_inbound_mappers_list_code_for_code(kit: Any) -> None:
    """One list: every retinal-exam code the inbound mappers read as last_eye_exam is exam
    evidence here, and the Procedure prefetch asks for each of them."""
    template = patient_view_service().prefetch["procedures"]  # type: ignore[index]
    coded = [(codes.SNOMED, c) for c in advice_codes.SNOMED_EYE_EXAM_PROCEDURES]
    coded += [(codes.CPT, c) for c in advice_codes.CPT_EYE_EXAM]
    for i, (system, code) in enumerate(coded):
        found = procedure("x", f"2025-{1 + i % 12:02d}-{1 + i // 12:02d}")
        found["code"] = {"coding": [{"system": system, "code": code}]}
        rec = record(kit, {**found, "id": f"e{i}"})
        assert exam_dates(rec) == [date.fromisoformat(found["performedDateTime"])], code
        assert rec.facts.last_eye_exam is not None and rec.facts.last_eye_exam.code == code
        assert f"{system}|{code}" in template


def test_old_or_unfinished_or_someone_elses_exams_do_not_count(kit: Any) -> None:
    rec = record(
        kit,
        procedure("722161008", "2024-11-30"),
        procedure("722161008", "2026-01-05", status="in-progress"),
        procedure("722161008", "2026-01-05", subject="Patient/other"),
        procedure("80146002", "2026-01-05"),  # an appendectomy is no eye exam
    )
    due = screening_due(rec, EVIDENCE_KEYS, TODAY)
    assert due is not None and due.last_exam == date(2024, 11, 30)
    assert recent_exam(rec, TODAY) is None


def test_app_context_names_the_patient_images_and_model_only() -> None:
    images = ImageState(image_hashes=("a" * 64,), pending=Pending("job", "queued", "j1"))
    assert app_context(REF, images, None) == {
        "patient": REF,
        "view": "dr-screening",
        "images": ["a" * 64],
    }
    assert app_context(REF, ImageState(), "s-1") == {
        "patient": REF,
        "view": "dr-screening",
        "screening": "s-1",
    }
