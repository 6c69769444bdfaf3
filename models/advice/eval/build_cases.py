"""Writes cases.jsonl: evaluation cases written from the guidelines (ADA 2025, CDS 2020).

Each case states what a guideline-concordant draft must contain (rule ids or text patterns)
and what it must not (inappropriate content). Run: python -m models.advice.eval.build_cases
"""

from __future__ import annotations

import json
from pathlib import Path
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


# --- young type 1 ---------------------------------------------------------------------
case(
    "t1-young-well",
    "22-year-old, type 1 for 8 years on insulin, at goal",
    facts(age=22, dm="type1", duration=8, meds=("insulin",)),
    inc=(
        "GLY-GOAL-ADULT",
        "GLY-GLUCAGON",
        "GLY-HYPO-REVIEW",
        "KID-MONITOR-ANNUAL",
        "EYE-NONE-SCREEN",
        "EX-ADULT",
    ),
    exc=("MED-METFORMIN-START", "MED-INSULIN-T1", "LIP-PRIMARY-MODERATE", "GLY-ABOVE-GOAL"),
)
case(
    "t1-teen",
    "15-year-old with type 1 for 2 years, HbA1c 8.5%",
    facts(
        age=15,
        dm="type1",
        duration=2,
        meds=("insulin",),
        labs={"hba1c": 8.5, "bmi": 20, "sbp": 110, "dbp": 70},
    ),
    inc=("GLY-GOAL-YOUTH", "GLY-ABOVE-GOAL", "EX-YOUTH"),
    exc=("EX-ADULT", "MEAS-UACR", "MED-METFORMIN-START", "GLY-GOAL-ADULT"),
)
case(
    "t1-no-insulin",
    "type 1 recorded but no insulin on the list (contradictory data)",
    facts(age=30, dm="type1", duration=10),
    inc=("MED-INSULIN-T1",),
    exc=("MED-METFORMIN-START",),
)
case(
    "t1-short-duration",
    "type 1 for 3 years: kidney screening not yet due",
    facts(age=26, dm="type1", duration=3, meds=("insulin",), labs={"hba1c": 7.1, "bmi": 22}),
    inc=("GLY-ABOVE-GOAL",),
    exc=("MEAS-UACR", "MEAS-EGFR", "KID-MONITOR-ANNUAL"),
)
# --- frail elderly -----------------------------------------------------------------------
case(
    "frail-elderly-su",
    "82-year-old frail woman on a sulfonylurea, HbA1c 7.6%",
    facts(
        age=82,
        meds=("sulfonylurea", "metformin", "statin"),
        labs={**FULL_LABS, "hba1c": 7.6, "sbp": 138, "dbp": 76},
        hypertension=True,
    ),
    ctx={"frail": True},
    inc=("GLY-GOAL-RELAXED", "MED-HYPO-RISK-OLDER", "BP-GOAL-FRAIL", "LIP-CONTINUE-STATIN"),
    exc=("GLY-ABOVE-GOAL", "BP-ABOVE-GOAL", "GLY-GOAL-ADULT", "BP-GOAL-GENERAL", STOP_STATIN),
)
case(
    "frail-elderly-high",
    "79-year-old frail man, HbA1c 8.6%, BP 152/84",
    facts(
        age=79,
        sex="male",
        meds=("insulin",),
        labs={**FULL_LABS, "hba1c": 8.6, "sbp": 152, "dbp": 84},
    ),
    ctx={"frail": True},
    inc=(
        "GLY-GOAL-RELAXED",
        "GLY-ABOVE-GOAL",
        "BP-ABOVE-GOAL-FRAIL",
        "MED-HYPO-RISK-OLDER",
        "LIP-OVER75-CONSIDER",
        "EX-OLDER-BALANCE",
    ),
    exc=("BP-TWO-DRUGS", "GLY-GOAL-OLDER"),
)
case(
    "healthy-older",
    "68-year-old healthy, HbA1c 7.3%",
    facts(age=68, meds=("metformin", "statin"), labs={**FULL_LABS, "hba1c": 7.3}),
    inc=("GLY-GOAL-OLDER", "LIP-PRIMARY-MODERATE", "LIP-CONTINUE-STATIN"),
    exc=("GLY-ABOVE-GOAL", "GLY-GOAL-RELAXED"),
)
case(
    "severe-hypo-history",
    "55-year-old with severe hypoglycaemia on insulin",
    facts(age=55, meds=("insulin", "metformin"), labs={**FULL_LABS, "hba1c": 7.6}),
    ctx={"severe_hypoglycaemia_history": True},
    inc=("GLY-GOAL-RELAXED", "GLY-HYPO-REVIEW", "GLY-GLUCAGON"),
    exc=("GLY-ABOVE-GOAL",),
)
# --- CKD 3-4 -----------------------------------------------------------------------------
case(
    "ckd3a-metformin",
    "CKD 3a (eGFR 52), UACR 80 with hypertension, on metformin",
    facts(
        age=63,
        meds=("metformin",),
        ckd_stage="3a",
        ckd=True,
        hypertension=True,
        labs={**FULL_LABS, "egfr": 52, "uacr": 80, "sbp": 134, "dbp": 82},
    ),
    inc=(
        "MED-SGLT2I-CKD",
        "BP-ACEI-ARB-ALBUMINURIA",
        "KID-MONITOR-CKD",
        "BP-ABOVE-GOAL",
        "KID-PROTEIN-INTAKE",
        "LIP-PRIMARY-HIGH-RISK",
        "MED-METFORMIN-B12",
    ),
    exc=("MED-METFORMIN-STOP-EGFR", "MED-METFORMIN-REDUCE-EGFR", "KID-MONITOR-ANNUAL"),
)
case(
    "ckd3b-metformin",
    "CKD 3b (eGFR 38) on metformin and an ARB",
    facts(
        age=70,
        meds=("metformin", "arb"),
        ckd=True,
        ckd_stage="3b",
        labs={**FULL_LABS, "egfr": 38, "uacr": 150},
    ),
    inc=("MED-METFORMIN-REDUCE-EGFR", "MED-SGLT2I-CKD", "MED-FINERENONE", "MED-RAAS-MONITOR"),
    exc=("MED-METFORMIN-START", "MED-METFORMIN-STOP-EGFR", "BP-ACEI-ARB-ALBUMINURIA"),
)
case(
    "ckd4-metformin",
    "CKD 4 (eGFR 24) still on metformin",
    facts(
        age=74,
        meds=("metformin", "acei"),
        ckd=True,
        ckd_stage="4",
        labs={**FULL_LABS, "egfr": 24, "uacr": 400},
    ),
    inc=("MED-METFORMIN-STOP-EGFR", "KID-REFER-NEPHROLOGY", "MED-SGLT2I-CKD"),
    # finerenone is for eGFR >= 25 (ADA 2025 §11)
    exc=("MED-METFORMIN-START", "MED-METFORMIN-REDUCE-EGFR", "MED-METFORMIN-B12", "MED-FINERENONE"),
)
case(
    "ckd4-egfr18",
    "eGFR 18: no SGLT2 inhibitor start, nephrology referral",
    facts(age=71, ckd=True, ckd_stage="4", labs={**FULL_LABS, "egfr": 18, "uacr": 600}),
    inc=("KID-REFER-NEPHROLOGY", "BP-ACEI-ARB-ALBUMINURIA"),
    exc=("MED-SGLT2I-CKD", "MED-METFORMIN-START", "MED-FINERENONE"),
)
case(
    "albuminuria-normotensive",
    "UACR 45 with normal BP and eGFR: no ACEi/ARB",
    facts(age=48, labs={**FULL_LABS, "uacr": 45, "sbp": 118, "dbp": 72}),
    inc=("KID-ALBUMINURIA-CONFIRM", "MED-SGLT2I-CKD", "KID-MONITOR-CKD"),
    exc=("BP-ACEI-ARB-ALBUMINURIA", "BP-ABOVE-GOAL"),
)
# --- eyes ----------------------------------------------------------------------------------
case(
    "pdr-right",
    "proliferative DR in the right eye",
    facts(age=57, meds=("metformin",), labs={**FULL_LABS, "hba1c": 9.1}),
    g=grading(("right", 4, False), ("left", 2, False)),
    inc=(
        "EYE-REFER-URGENT-PDR",
        "EYE-EXERCISE-CAUTION",
        "GLY-ABOVE-GOAL",
        "re.en:(?i)urgent",
        "re.zh:紧急",
    ),
    exc=("EYE-NONE-SCREEN", "EYE-MILD-YEARLY", "re.en:(?i)1.2 years"),
)
case(
    "severe-npdr",
    "severe NPDR both eyes",
    facts(age=61, meds=("metformin",)),
    g=grading(("right", 3, False), ("left", 3, False)),
    inc=("EYE-REFER", "EYE-EXERCISE-CAUTION"),
    exc=("EYE-NONE-SCREEN", "EYE-MILD-YEARLY"),
)
case(
    "moderate-npdr",
    "moderate NPDR: refer, never 'rescreen in 1-2 years'",
    facts(age=52, meds=("metformin",)),
    g=grading(("right", 2, False), ("left", 1, False)),
    inc=("EYE-REFER", "re.en:(?i)ophthalmologist", "re.zh:眼科"),
    exc=("EYE-NONE-SCREEN", "EYE-MILD-YEARLY", "EYE-EXERCISE-CAUTION", "re.en:(?i)every 1.2 years"),
)
case(
    "dme-only",
    "macular oedema without other DR grade",
    facts(age=59, meds=("metformin",)),
    g=grading(("right", 1, True), ("left", 0, False)),
    inc=("EYE-REFER",),
    exc=("EYE-MILD-YEARLY", "EYE-NONE-SCREEN"),
)
case(
    "mild-npdr",
    "mild NPDR: yearly examination",
    facts(age=49, meds=("metformin",)),
    g=grading(("right", 1, False), ("left", 0, False)),
    inc=("EYE-MILD-YEARLY", "re.en:(?i)every year", "re.zh:每年"),
    exc=("EYE-REFER", "EYE-NONE-SCREEN"),
)
case(
    "no-dr",
    "no DR: rescreen in 1-2 years",
    facts(age=46, meds=("metformin",)),
    inc=("EYE-NONE-SCREEN", "re.en:1–2 years", "re.zh:1–2年"),
    exc=("EYE-REFER", "MEAS-EYE-EXAM"),
)
case(
    "no-dr-prior-dr",
    "no DR now but DR recorded before",
    facts(age=60, meds=("metformin",), prior_dr=True),
    inc=("EYE-NONE-PRIOR-DR",),
    exc=("EYE-NONE-SCREEN",),
)
case(
    "ungradable-one-eye",
    "one eye ungradable, other no DR",
    facts(age=66, meds=("metformin",)),
    g=grading(("right", 0, False), ("left", None, False)),
    inc=("EYE-UNGRADABLE",),
    exc=("EYE-NONE-SCREEN",),
)
case(
    "no-grading-no-exam",
    "no images and no eye exam on record",
    facts(age=50, meds=("metformin",)),
    g=None,
    inc=("MEAS-EYE-EXAM",),
    exc=("EYE-NONE-SCREEN", "EYE-REFER"),
)
case(
    "no-grading-recent-exam",
    "no images but an eye exam 8 months ago",
    facts(age=50, meds=("metformin",)),
    g=None,
    ctx={"last_eye_exam": "2024-07-01"},
    exc=("MEAS-EYE-EXAM",),
)
# --- pregnancy -----------------------------------------------------------------------------
case(
    "pregnancy-t1",
    "pregnant, type 1, on insulin",
    facts(
        age=29,
        dm="type1",
        duration=12,
        meds=("insulin",),
        pregnancy=True,
        labs={**FULL_LABS, "hba1c": 6.4},
    ),
    inc=("GLY-GOAL-PREGNANCY", "GLY-ABOVE-GOAL", "EYE-PREGNANCY"),
    exc=(
        "GLY-GOAL-ADULT",
        "MED-METFORMIN-START",
        "LIP-PRIMARY-MODERATE",
        "MED-SGLT2I-CKD",
        "WT-LOSS-GENERAL",
        "MED-WEIGHT-GLP1",
    ),
)
case(
    "pregnancy-t2-teratogens",
    "pregnant, type 2, on an ACE inhibitor, statin and metformin",
    facts(
        age=34,
        meds=("acei", "statin", "metformin"),
        pregnancy=True,
        hypertension=True,
        labs={**FULL_LABS, "sbp": 142, "dbp": 88, "bmi": 31},
    ),
    inc=("MED-PREG-TERATOGENS", "MED-PREG-INSULIN", "BP-PREGNANCY"),
    exc=(
        "LIP-CONTINUE-STATIN",
        "BP-GOAL-GENERAL",
        "MED-WEIGHT-GLP1",
        "WT-LOSS-GENERAL",
        "MED-METFORMIN-START",
    ),
)
case(
    "pregnancy-alcohol",
    "pregnant and drinking",
    facts(age=31, meds=("insulin",), pregnancy=True),
    ctx={"alcohol": "moderate"},
    inc=("LIFE-ALCOHOL-PREGNANCY",),
    exc=("LIFE-ALCOHOL-LIMIT",),
)
case(
    "gestational",
    "gestational diabetes on insulin",
    facts(age=32, dm="gestational", duration=0.2, meds=("insulin",), pregnancy=True),
    g=None,
    inc=("GLY-GOAL-PREGNANCY",),
    exc=("EYE-PREGNANCY", "MED-METFORMIN-START"),
)
case(
    "pregnancy-male",
    "pregnancy recorded for a male patient (contradictory data)",
    facts(age=40, sex="male", meds=("metformin",), pregnancy=True),
    inc=("DATA-PREGNANCY-MALE",),
)
# --- missing labs ----------------------------------------------------------------------
case(
    "no-labs",
    "newly registered, no labs at all",
    facts(age=52, labs={}),
    g=None,
    inc=(
        "MEAS-HBA1C",
        "MEAS-UACR",
        "MEAS-EGFR",
        "MEAS-LIPIDS",
        "MEAS-BP",
        "MEAS-BMI",
        "MEAS-EYE-EXAM",
        "MED-METFORMIN-START",
    ),
    exc=("GLY-ABOVE-GOAL", "BP-ABOVE-GOAL"),
)
case(
    "old-labs",
    "labs 21 months old",
    facts(age=58, meds=("metformin",), lab_date=OLD),
    inc=("MEAS-HBA1C", "MEAS-UACR", "MEAS-EGFR", "MEAS-LIPIDS"),
    exc=("MEAS-BP", "MEAS-BMI"),
)
case(
    "smoking-unknown",
    "smoking status not recorded",
    facts(age=45, meds=("metformin",), smoking="unknown"),
    inc=("MEAS-SMOKING",),
    exc=("LIFE-SMOKING-QUIT",),
)
# --- cardiovascular, lipids, BP --------------------------------------------------------
case(
    "ascvd-no-statin",
    "prior MI, no statin, no antiplatelet, no cardioprotective drug",
    facts(age=64, sex="male", meds=("metformin",), ascvd=True, labs={**FULL_LABS, "ldl": 3.1}),
    inc=(
        "LIP-ASCVD-START-STATIN",
        "LIP-ASCVD-GOAL",
        "MED-ANTIPLATELET-ASCVD",
        "MED-CARDIORENAL-ASCVD",
        "re.en:1.4 mmol/L",
        "re.en:55 mg/dL",
    ),
    exc=("LIP-PRIMARY-MODERATE", "LIP-PRIMARY-HIGH-RISK"),
)
case(
    "ascvd-ldl-above",
    "ASCVD on statin, LDL 1.9 mmol/L",
    facts(
        age=66,
        sex="male",
        meds=("statin", "antiplatelet", "sglt2i", "metformin"),
        ascvd=True,
        labs={**FULL_LABS, "ldl": 1.9},
    ),
    inc=("LIP-ADD-NONSTATIN-ASCVD", "LIP-CONTINUE-STATIN"),
    exc=("LIP-ASCVD-START-STATIN", "MED-ANTIPLATELET-ASCVD", "MED-CARDIORENAL-ASCVD", STOP_STATIN),
)
case(
    "ascvd-at-goal-pcsk9",
    "ASCVD on statin + PCSK9 inhibitor, LDL 1.2",
    facts(
        age=60,
        meds=("statin", "pcsk9i", "anticoagulant", "glp1ra"),
        ascvd=True,
        labs={**FULL_LABS, "ldl": 1.2},
    ),
    inc=("LIP-CONTINUE-STATIN",),
    exc=("LIP-ADD-NONSTATIN-ASCVD", "MED-ANTIPLATELET-ASCVD", "MED-CARDIORENAL-ASCVD"),
)
case(
    "hf-tzd",
    "heart failure on pioglitazone",
    facts(age=69, meds=("tzd", "metformin", "loop_diuretic", "beta_blocker"), heart_failure=True),
    inc=("MED-TZD-HF", "MED-SGLT2I-HF", "MED-RAAS-MONITOR"),
    exc=(),
)
case(
    "hf-on-sglt2",
    "heart failure already on an SGLT2 inhibitor and ARNI + MRA",
    facts(age=72, meds=("sglt2i", "arni", "mra", "metformin"), heart_failure=True),
    inc=("MED-RAAS-MONITOR",),
    exc=("MED-SGLT2I-HF", "MED-ACEI-ARB-DUAL"),
)
case(
    "dual-raas",
    "ACE inhibitor plus ARB",
    facts(age=58, meds=("acei", "arb", "metformin"), hypertension=True),
    inc=("MED-ACEI-ARB-DUAL", "MED-RAAS-MONITOR"),
)
case(
    "bp-150",
    "BP 156/94 untreated",
    facts(age=55, sex="male", meds=("metformin",), labs={**FULL_LABS, "sbp": 156, "dbp": 94}),
    inc=("BP-TWO-DRUGS", "DIET-SODIUM", "BP-GOAL-GENERAL", "re.en:130/80"),
    exc=("BP-ABOVE-GOAL",),
)
case(
    "bp-at-goal-ccb-thiazide",
    "BP at goal on a CCB and a thiazide",
    facts(
        age=61,
        meds=("ccb", "thiazide", "metformin"),
        hypertension=True,
        labs={**FULL_LABS, "sbp": 126, "dbp": 74},
    ),
    inc=("BP-GOAL-GENERAL", "MED-RAAS-MONITOR", "LIP-PRIMARY-HIGH-RISK"),
    exc=("BP-ABOVE-GOAL", "BP-TWO-DRUGS"),
)
case(
    "very-high-tg",
    "triglycerides 7.2 mmol/L on statin + fibrate",
    facts(
        age=50, meds=("statin", "fibrate", "metformin"), labs={**FULL_LABS, "triglycerides": 7.2}
    ),
    inc=("LIP-TG-VERY-HIGH", "LIP-STATIN-FIBRATE", "re.en:500 mg/dL"),
)
case(
    "young-t2-risk",
    "32-year-old type 2 smoker with albuminuria",
    facts(age=32, smoking="current", meds=("metformin",), labs={**FULL_LABS, "uacr": 60}),
    inc=("LIP-YOUNG-RISK", "LIFE-SMOKING-QUIT", "MED-SGLT2I-CKD"),
    exc=("LIP-PRIMARY-MODERATE",),
)
# --- glucose-lowering classes -----------------------------------------------------------
case(
    "dpp4-glp1",
    "DPP-4 inhibitor together with a GLP-1 RA",
    facts(age=57, meds=("dpp4i", "glp1ra", "metformin")),
    inc=("MED-DPP4I-WITH-GLP1RA",),
)
case(
    "agi-glinide-older",
    "70-year-old on acarbose and a glinide",
    facts(age=70, meds=("alpha_glucosidase_inhibitor", "glinide")),
    inc=("MED-HYPO-RISK-OLDER", "GLY-HYPO-REVIEW", "MED-METFORMIN-START"),
)
case(
    "obese-t2",
    "BMI 33, HbA1c 8.2% on metformin",
    facts(age=47, meds=("metformin",), labs={**FULL_LABS, "bmi": 33, "hba1c": 8.2}),
    inc=("MED-WEIGHT-GLP1", "WT-LOSS-GENERAL", "GLY-ABOVE-GOAL"),
    exc=("MED-METFORMIN-START",),
)
case(
    "very-high-glucose",
    "HbA1c 11.2% on metformin only",
    facts(age=51, meds=("metformin",), labs={**FULL_LABS, "hba1c": 11.2}),
    inc=("GLY-INSULIN-VERY-HIGH", "GLY-ABOVE-GOAL"),
)
case(
    "other-class",
    "medication of an unclassified class only",
    facts(age=53, meds=("other",)),
    inc=("MED-METFORMIN-START",),
)
# --- weight cut-offs by population ---------------------------------------------------------
case(
    "chinese-bmi-24",
    "Chinese patient, BMI 24.6",
    facts(age=50, meds=("metformin",), labs={**FULL_LABS, "bmi": 24.6}),
    ctx={"population": "chinese"},
    inc=("WT-LOSS-CHINESE", "re.zh:24"),
    exc=("WT-LOSS-GENERAL",),
)
case(
    "asian-american-bmi-23",
    "Asian American patient, BMI 23.4",
    facts(age=44, meds=("metformin",), labs={**FULL_LABS, "bmi": 23.4}),
    ctx={"population": "asian_american"},
    inc=("WT-LOSS-ASIAN-AMERICAN",),
    exc=("WT-LOSS-GENERAL",),
)
case(
    "general-bmi-24",
    "BMI 24.6 under the general (ADA) cut-off",
    facts(age=50, meds=("metformin",), labs={**FULL_LABS, "bmi": 24.6}),
    exc=("WT-LOSS-GENERAL", "WT-LOSS-CHINESE"),
)
# --- lifestyle -----------------------------------------------------------------------------
case(
    "heavy-drinker-insulin",
    "heavy drinker on insulin",
    facts(age=49, sex="male", meds=("insulin", "metformin")),
    ctx={"alcohol": "heavy"},
    inc=("LIFE-ALCOHOL-HEAVY", "LIFE-ALCOHOL-LIMIT", "re.en:(?i)hypoglycaemia"),
)
case(
    "well-controlled",
    "well-controlled 50-year-old: no intensification, no referral",
    facts(age=50, meds=("metformin", "statin")),
    inc=("GLY-GOAL-ADULT", "DIET-MNT", "EX-ADULT", "LIP-CONTINUE-STATIN"),
    exc=(
        "GLY-ABOVE-GOAL",
        "EYE-REFER",
        "BP-ABOVE-GOAL",
        "MEAS-HBA1C",
        STOP_STATIN,
        r"re.en:(?i)\brefer\b",
    ),
)


def main() -> None:
    out = Path(__file__).with_name("cases.jsonl")
    with out.open("w", encoding="utf-8") as fh:
        for c in CASES:
            fh.write(json.dumps(c, ensure_ascii=False) + "\n")
    print(f"{len(CASES)} cases -> {out}")


if __name__ == "__main__":
    main()
