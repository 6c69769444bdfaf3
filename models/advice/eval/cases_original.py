"""The first 51 evaluation cases (knowledge base 2025.1), kept as written except where the
2025.2 review changed what the guideline says (frail older adults: ADA Table 13.1 keeps the
<130/80 mmHg goal for complex/intermediate health)."""

from __future__ import annotations

from models.advice.eval.builders import (
    FULL_LABS,
    STOP_STATIN,
    case,
    facts,
    grading,
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
    # ADA Table 13.1: complex/intermediate health (frailty) keeps the <130/80 mmHg goal.
    inc=(
        "GLY-GOAL-RELAXED",
        "MED-HYPO-RISK-OLDER",
        "BP-GOAL-GENERAL",
        "BP-ABOVE-GOAL",
        "LIP-CONTINUE-STATIN",
    ),
    exc=("GLY-ABOVE-GOAL", "GLY-GOAL-ADULT", "BP-GOAL-FRAIL", STOP_STATIN),
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
        "BP-TWO-DRUGS",
        "MED-HYPO-RISK-OLDER",
        "LIP-OVER75-CONSIDER",
        "EX-OLDER-BALANCE",
    ),
    exc=("BP-ABOVE-GOAL-FRAIL", "BP-GOAL-FRAIL", "GLY-GOAL-OLDER"),
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
