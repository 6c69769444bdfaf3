"""Builders for the evaluation cases: facts, gradings and the case registry.

Each case states what a guideline-concordant draft must contain (rule ids or text patterns)
and what it must not (inappropriate content); build_cases.py writes them to cases.jsonl.
"""

from __future__ import annotations

from typing import Any

AS_OF = "2025-03-01"
RECENT = "2025-02-01"
OLD = "2023-06-01"
UNITS = {
    "hba1c": "%",
    "fasting_glucose": "mmol/L",
    "sbp": "mm[Hg]",
    "dbp": "mm[Hg]",
    "bmi": "kg/m2",
    "ldl": "mmol/L",
    "hdl": "mmol/L",
    "triglycerides": "mmol/L",
    "total_cholesterol": "mmol/L",
    "egfr": "mL/min/{1.73_m2}",
    "uacr": "mg/g",
}
FULL_LABS = {"hba1c": 6.8, "egfr": 85, "uacr": 12, "ldl": 2.2, "sbp": 124, "dbp": 76, "bmi": 23.5}


def facts(
    *,
    age: int | None,
    sex: str = "female",
    dm: str = "type2",
    duration: float | None = 5,
    meds: tuple[str, ...] = (),
    smoking: str = "never",
    labs: dict[str, float] | None = None,
    lab_date: str = RECENT,
    ckd_stage: str | None = None,
    extra: dict[str, Any] | None = None,
    **conditions: bool,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "patient_ref": "Patient/eval",
        "as_of": AS_OF,
        "age_years": age,
        "sex": sex,
        "diabetes": {"source": "Condition/dm", "type": dm, "duration_years": duration},
        "smoking": {"source": "Observation/smk", "status": smoking},
        "measurements": {
            k: {"source": f"Observation/{k}", "date": lab_date, "value": v, "unit": UNITS[k]}
            for k, v in (labs if labs is not None else FULL_LABS).items()
        },
        "medications": [
            {"source": f"MedicationStatement/{m}", "name": m, "drug_class": m} for m in meds
        ],
    }
    if ckd_stage:
        out["ckd_stage"] = ckd_stage
    for name, present in conditions.items():
        out[name] = {"source": f"Condition/{name}", "present": present}
    out.update(extra or {})
    return out


def grading(*eyes: tuple[str, int | None, bool]) -> dict[str, Any]:
    model = {"name": "eval", "version": "1"}
    out = []
    for lat, grade, dme in eyes:
        img: dict[str, Any] = {"image_id": f"{lat}1", "laterality": lat, "model": model}
        if grade is None:
            img["quality"] = {"gradable": False, "score": 0.1, "reasons": ["blur"]}
        else:
            probs = [0.0] * 5
            probs[grade] = 0.85
            probs[(grade + 1) % 5] = 0.15
            img.update(
                quality={"gradable": True, "score": 0.9},
                dr_grade={"probabilities": probs, "grade": grade},
                referable={"probability": 0.9 if grade >= 2 else 0.05, "positive": grade >= 2},
                dme={"probability": 0.9 if dme else 0.05, "positive": dme},
            )
        out.append(
            {
                "laterality": lat,
                "images": [img],
                "decisive_image_id": None if grade is None else f"{lat}1",
            }
        )
    return {"model": model, "eyes": out}


NO_DR = grading(("right", 0, False), ("left", 0, False))
STOP_STATIN = r"re:(?i)(stop|discontinue)\w*\s+(the\s+)?statin|停用他汀"
CASES: list[dict[str, Any]] = []


def case(
    cid: str,
    desc: str,
    f: dict[str, Any],
    g: dict[str, Any] | None = NO_DR,
    ctx: dict[str, Any] | None = None,
    inc: tuple[str, ...] = (),
    exc: tuple[str, ...] = (),
) -> None:
    CASES.append(
        {
            "id": cid,
            "description": desc,
            "facts": f,
            "grading": g,
            "context": ctx,
            "must_include": list(inc),
            "must_not_include": list(exc),
        }
    )
