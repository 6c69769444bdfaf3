"""The text lines of a screening that `deepdr-fhir screen` and the demo print: the facts line
(models.clinical_facts_display) and the per-eye line with lesions in words; the facts read
the same on the review page and in `deepdr-fhir facts`."""

from __future__ import annotations

from datetime import date
from typing import Any

from models.clinical_facts import (
    ClinicalFacts,
    DiabetesFact,
    DiabetesType,
    Measurement,
    MedicationClass,
    MedicationFact,
    Sex,
)
from plugin.cli.facts_cmd import render_facts
from plugin.smart_app.review_model import fact_rows
from plugin.workflow.summary import eye_line, facts_line, lesion_names


def record() -> ClinicalFacts:
    return ClinicalFacts(
        patient_ref="Patient/1",
        as_of=date(2025, 1, 1),
        age_years=45,
        sex=Sex.FEMALE,
        diabetes=DiabetesFact(source="Condition/1", type=DiabetesType.TYPE2, duration_years=0.3),
        measurements={
            "egfr": Measurement(source="Observation/1", value=38.04, unit="mL/min/{1.73_m2}"),
            "dbp": Measurement(source="Observation/2", value=84, unit="mm[Hg]"),
            "hba1c": Measurement(
                source="Observation/3",
                value=6.909,
                unit="%",
                original_value=52,
                original_unit="mmol/mol",
            ),
        },
        medications=(
            MedicationFact(
                source="MedicationRequest/1", name="lisinopril", drug_class=MedicationClass.ACEI
            ),
        ),
    )


def test_facts_line_reads_with_units_durations_and_drug_classes_in_words() -> None:
    text = facts_line(record())
    assert text == (
        "45 years, female; type 2 diabetes for under a year; HbA1c 6.9 %; "
        "diastolic BP 84 mmHg (systolic not recorded); eGFR 38 mL/min/1.73 m²; "
        "on ACE inhibitor"
    )
    # What `screen` used to print: codes, a bare eGFR, a duration of "0 y".
    assert "acei" not in text and "0 y" not in text and "type2" not in text


def test_the_screen_the_review_page_and_the_facts_command_agree() -> None:
    facts = record()
    line = facts_line(facts)
    rows = {r.label: r.value for r in fact_rows(facts)}
    listing = render_facts(facts)
    for label, value in (("HbA1c", "6.9 %"), ("eGFR", "38 mL/min/1.73 m²")):
        assert value in line and rows[label].startswith(value) and value in listing
    assert rows["Diastolic BP"] == "84 mmHg"
    assert rows["Medication"] == "lisinopril (ACE inhibitor)"
    assert "lisinopril (ACE inhibitor)" in listing
    assert rows["Diabetes"] == "Type 2, under a year" and "type 2, under a year" in listing
    assert "sent as 52 mmol/mol" in rows["HbA1c"] and "(sent as 52 mmol/mol)" in listing


def eye(**kw: Any) -> dict[str, Any]:
    return {
        "eye": "right",
        "gradable": True,
        "dr_grade": 2,
        "dr_label": "moderate NPDR",
        "dr_probability": 0.61,
        "referable": True,
        "referable_probability": 0.9,
        **kw,
    }


def test_eye_line_names_lesions_in_words_in_the_graders_order() -> None:
    text = eye_line(eye(lesions=["EX", "HE", "MA"]))
    assert text == (
        "moderate NPDR (ICDR 2, p=0.61); referable yes (p=0.90); "
        "lesions: microaneurysms, haemorrhages, hard exudates"
    )
    assert "lesions" not in eye_line(eye(lesions=[]))
    assert lesion_names(["SE", "XX"]) == "cotton-wool spots, XX"  # an unknown key as sent
    assert eye_line({"eye": "left", "gradable": False}) == "ungradable (retake the photograph)"
