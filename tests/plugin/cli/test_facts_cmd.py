"""`deepdr-fhir facts BUNDLE.json [--json] [--patient ID] [--as-of DATE]`."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from models.clinical_facts import (
    AlcoholFact,
    AlcoholUse,
    ClinicalFacts,
    ConditionFact,
    EyeExamFact,
    FrailtyFact,
    FrailtySeverity,
    HypoglycaemiaFact,
    Measurement,
    Population,
    PopulationFact,
)
from plugin.cli.facts_cmd import LABEL_WIDTH, render_facts
from plugin.cli.main import main

FIXTURES = Path(__file__).resolve().parents[2] / "fhir_mappers" / "inbound" / "fixtures"
SYNTHEA = FIXTURES / "synthea_style.json"


def _write(tmp_path: Path, data: Any, name: str = "in.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def _two_patients() -> dict[str, Any]:
    def patient(pid: str, gender: str) -> dict[str, Any]:
        return {"resourceType": "Patient", "id": pid, "gender": gender, "birthDate": "1970-01-01"}

    hba1c = {
        "resourceType": "Observation",
        "id": "o",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
        "subject": {"reference": "Patient/b"},
        "effectiveDateTime": "2025-01-01",
        "valueQuantity": {"value": 8.2, "unit": "%"},
    }
    entries = [patient("a", "female"), patient("b", "male"), hba1c]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in entries],
    }


def test_text_output_is_grouped_with_values_units_dates_sources(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["facts", str(SYNTHEA), "--as-of", "2025-06-30"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Patient/8f789d0b-3145-4cf2-8504-13159edaa747 (as of 2025-06-30)")
    for heading in ("Conditions", "Measurements (latest)", "Current medications", "Fundus images"):
        assert f"\n{heading}\n" in out
    # Words, units and precision of models.clinical_facts_display (the review page's too).
    assert "type 2, 19 years (onset 2006-03-07)" in out
    hba1c = next(line for line in out.splitlines() if line.strip().startswith("HbA1c"))
    assert "7.5 %" in hba1c and "2024-11-05" in hba1c  # 7.54 in the record, 1 decimal shown
    assert "Observation/0b5e0b5e-0000-4000-8000-000000000001" in hba1c
    assert "2.7 mmol/L (sent as 104.9 mg/dL)" in out  # LDL converted, original shown
    assert "71 mL/min/1.73 m²" in out and "30.1 kg/m²" in out
    assert f"  {'CKD stage':<{LABEL_WIDTH}}2\n" in out
    assert "  never smoked (2024-11-05)" in out
    assert "  lisinopril 10 MG Oral Tablet (ACE inhibitor)  <- MedicationRequest/" in out
    section = out.split("Measurements (latest)\n")[1].split("\nCurrent medications")[0]
    assert [line[2 : 2 + LABEL_WIDTH].strip() for line in section.splitlines()] == [
        "HbA1c",
        "Systolic BP",
        "Diastolic BP",
        "BMI",
        "LDL cholesterol",
        "eGFR",
        "Albumin/creatinine ratio",
    ]  # clinical order, not the record's


def test_json_output_is_clinical_facts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["facts", str(SYNTHEA), "--json", "--as-of", "2025-06-30"]) == 0
    facts = ClinicalFacts.model_validate(json.loads(capsys.readouterr().out))
    assert facts.value("hba1c") == 7.54 and facts.as_of.isoformat() == "2025-06-30"


def test_json_output_feeds_advise(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["facts", str(SYNTHEA), "--json", "--as-of", "2025-06-30"]) == 0
    facts_path = tmp_path / "facts.json"
    facts_path.write_text(capsys.readouterr().out, encoding="utf-8")
    assert main(["advise", str(facts_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)


def test_warnings_are_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(SYNTHEA.read_text(encoding="utf-8"))
    data["entry"][7]["resource"]["valueQuantity"] = {"value": 7.5, "unit": "furlongs"}
    assert main(["facts", _write(tmp_path, data)]) == 0
    out = capsys.readouterr().out
    assert "Warnings (1)" in out and "unknown unit 'furlongs'; dropped" in out


def test_patient_choice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, _two_patients())
    assert main(["facts", path]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("2 Patient resources in the input; choose one by id (use --patient ID)")
    assert "\n" not in err
    assert main(["facts", path, "--patient", "b", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["patient_ref"] == "Patient/b" and facts["measurements"]["hba1c"]["value"] == 8.2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"\xff\xfe\x00garbage", "not UTF-8 text"),
        (b"{not json", "not valid JSON"),
        (b'{"hello": "world"}', "not FHIR: the JSON object has no resourceType"),
        (b'"just a string"', "not FHIR"),
        (b'{"resourceType": "Observation", "status": "final"}', "got Observation"),
        (b'{"resourceType": "Bundle", "type": "collection"}', "the Bundle has no entries"),
        (b"[]", "the JSON array is empty"),
        (b"[1, 2]", "no resource with a resourceType"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, message: str
) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_bytes(content)
    assert main(["facts", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("deepdr-fhir facts: ") and message in lines[0]


def test_bad_as_of_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["facts", str(SYNTHEA), "--as-of", "30/06/2025"]) == 2
    assert "is not a date (YYYY-MM-DD)" in capsys.readouterr().err


def test_console_script_never_prints_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"resourceType": "Bundle", "entry": "nope"}', encoding="utf-8")
    script = Path(sys.executable).with_name("deepdr-fhir")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "plugin.cli.main"]
    proc = subprocess.run([*cmd, "facts", str(bad)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert (
        proc.stderr.strip() == f"deepdr-fhir facts: {bad}: malformed Bundle: entry is not an array"
    )
    assert "Traceback" not in proc.stderr


def test_text_shows_what_the_advice_reads_beyond_conditions_and_labs() -> None:
    facts = ClinicalFacts(
        patient_ref="Patient/p1",
        as_of=date(2026, 3, 2),
        frailty=FrailtyFact(
            source="Observation/cfs",
            date=date(2025, 12, 1),
            severity=FrailtySeverity.SEVERE,
            score=7,
            code="763264000",
        ),
        hypoglycaemia=HypoglycaemiaFact(
            source="Condition/h", date=date(2024, 8, 1), code="E16.0", coma=True, count=2
        ),
        limited_life_expectancy=ConditionFact(source="Procedure/hospice", code="385763009"),
        alcohol=AlcoholFact(
            source="Observation/a", date=date(2025, 5, 5), use=AlcoholUse.HEAVY, drinks_per_day=3
        ),
        population=PopulationFact(
            source="Patient/p1", population=Population.CHINESE, basis="address country CN"
        ),
        last_eye_exam=EyeExamFact(
            source="Procedure/exam",
            date=date(2025, 10, 14),
            kind="Procedure",
            code="2023F",
            retinopathy=False,
        ),
        measurements={"hba1c": Measurement(source="Observation/1", value=8.1, unit="%")},
        conflicting=("hba1c",),
    )
    end = 2 + LABEL_WIDTH
    lines = {line[2:end].strip(): line[end:] for line in render_facts(facts).splitlines()}
    assert lines["Frailty"] == (
        "severe, Clinical Frailty Scale 7 (2025-12-01)  [763264000]  <- Observation/cfs"
    )
    assert lines["Hypoglycaemia"] == (
        "yes, with coma, 2 records (latest shown) (2024-08-01)  [E16.0]  <- Condition/h"
    )
    assert lines["Limited life expectancy"] == "yes  [385763009]  <- Procedure/hospice"
    assert lines["Alcohol"] == "heavy, 3 drinks/day (2025-05-05)  <- Observation/a"
    assert lines["BMI population"] == "Chinese (address country CN)  <- Patient/p1"
    assert lines["Last eye exam"] == (
        "2025-10-14 Procedure, no retinopathy  [2023F]  <- Procedure/exam"
    )
    assert "  Conflicting same-day results: HbA1c (see warnings)" in render_facts(facts)
    silent = render_facts(ClinicalFacts(patient_ref="Patient/p2", as_of=date(2026, 3, 2)))
    assert f"  {'Frailty':<{LABEL_WIDTH}}not recorded" in silent
    assert f"{'Last eye exam':<{LABEL_WIDTH}}not recorded" in silent and "Conflicting" not in silent
