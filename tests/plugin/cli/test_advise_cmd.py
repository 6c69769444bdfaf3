"""`deepdr-fhir advise`: both input shapes, both languages, JSON output, bad input -> exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plugin.cli.main import main

FACTS = {
    "patient_ref": "Patient/123",
    "as_of": "2025-03-01",
    "age_years": 60,
    "sex": "male",
    "diabetes": {"source": "Condition/1", "type": "type2", "duration_years": 9},
    "measurements": {
        "hba1c": {"source": "Observation/h", "date": "2025-02-01", "value": 8.4, "unit": "%"},
        "egfr": {
            "source": "Observation/e",
            "date": "2025-02-01",
            "value": 28,
            "unit": "mL/min/{1.73_m2}",
        },
    },
    "medications": [
        {"source": "MedicationStatement/1", "name": "metformin", "drug_class": "metformin"}
    ],
}
GRADING = {
    "model": {"name": "ref", "version": "1"},
    "eyes": [
        {
            "laterality": "right",
            "decisive_image_id": "r1",
            "images": [
                {
                    "image_id": "r1",
                    "laterality": "right",
                    "model": {"name": "ref", "version": "1"},
                    "quality": {"gradable": True, "score": 0.9},
                    "dr_grade": {"probabilities": [0.0, 0.0, 0.1, 0.1, 0.8], "grade": 4},
                }
            ],
        }
    ],
}


def _write(tmp_path: Path, data: object, name: str = "facts.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_text_output_with_grading_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, {**FACTS, "grading": GRADING})
    assert main(["advise", path]) == 0
    out = capsys.readouterr().out
    assert "Urgent:" in out
    assert "MED-METFORMIN-STOP-EGFR" in out and "EYE-REFER-URGENT-PDR" in out


def test_wrapped_shape_json_chinese(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, {"facts": FACTS, "grading": GRADING, "context": {"frail": True}})
    assert main(["advise", path, "--lang", "zh", "--json"]) == 0
    draft = json.loads(capsys.readouterr().out)
    assert draft["lang"] == "zh" and draft["engine"] == "rules"
    ids = [i["rule_id"] for i in draft["items"]]
    assert "GLY-GOAL-RELAXED" in ids and "EYE-REFER-URGENT-PDR" in ids
    stop = next(i for i in draft["items"] if i["rule_id"] == "MED-METFORMIN-STOP-EGFR")
    assert "二甲双胍" in stop["text"]
    assert stop["facts_used"][0]["source"] == "Observation/e"
    assert stop["citations"][0]["source"] == "ADA2025"


def test_facts_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advise", _write(tmp_path, FACTS), "--json"]) == 0
    draft = json.loads(capsys.readouterr().out)
    assert "MEAS-EYE-EXAM" in [i["rule_id"] for i in draft["items"]]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "must be a JSON object"),
        (json.dumps({**FACTS, "age_years": "sixty"}), "facts: age_years"),
        (json.dumps({"facts": FACTS, "grading": {"eyes": []}}), "grading: model"),
        (json.dumps({"facts": FACTS, "extra": 1}), "unknown top-level key"),
        (json.dumps({"facts": FACTS, "context": {"frail": "very"}}), "context: frail"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    assert main(["advise", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advise", str(tmp_path / "nope.json")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_llm_engine_bad_backend_options_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, FACTS)
    assert main(["advise", path, "--engine", "llm", "--backend", "openai"]) == 2
    assert "base_url and model" in capsys.readouterr().err
    assert main(["advise", path, "--engine", "llm", "--backend", "hf_local"]) == 2
    assert "model_dir" in capsys.readouterr().err
