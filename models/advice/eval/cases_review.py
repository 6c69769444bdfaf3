"""Evaluation cases added with the 2025.2 review, each written from a guideline statement:
the tricky ones (pregnancy with hypertension and albuminuria, type 1 in a young adult,
eGFR 25 and 18, heart failure without ASCVD, PDR with DME, ungradable or missing eyes,
moderate / severe NPDR, missing labs, contradictory HbA1c, very complex older adults, BMI
24.5 by population, e-cigarettes, heavy alcohol, ACEi/ARB not for primary prevention)."""

from __future__ import annotations

from models.advice.eval.builders import FULL_LABS, case, facts, grading

NO_ACEI_ARB = r"re.en:(?i)(start|add|consider)\w*\s.{0,40}(ACE inhibitor|\bARB\b)"
NO_STATIN_START = r"re.en:(?i)(start|add|use)\w*\s.{0,40}statin"
NO_METFORMIN = r"re:(?i)metformin|二甲双胍"
NO_SULFONYLUREA = r"re:(?i)sulfonylurea|glipizide|gliclazide|glimepiride|磺脲"
RESCREEN_1_2_YEARS = r"re.en:(?i)every 1.2 years"

# --- pregnancy --------------------------------------------------------------------------------
case(
    "pregnancy-htn-albuminuria",
    "pregnant, type 2, chronic hypertension 146/92 and UACR 120: pregnancy-safe BP treatment,"
    " no ACE inhibitor / ARB, no statin, no SGLT2 inhibitor or finerenone (ADA §15, §11)",
    facts(
        age=33,
        hypertension=True,
        pregnancy=True,
        labs={**FULL_LABS, "uacr": 120, "sbp": 146, "dbp": 92, "egfr": 95},
    ),
    inc=("BP-PREGNANCY", "GLY-GOAL-PREGNANCY", "EYE-PREGNANCY", "KID-MONITOR-CKD"),
    exc=(
        "BP-ACEI-ARB-ALBUMINURIA",
        "BP-GOAL-GENERAL",
        "LIP-PRIMARY-MODERATE",
        "LIP-PRIMARY-HIGH-RISK",
        "LIP-YOUNG-RISK",
        "MED-SGLT2I-CKD",
        "MED-FINERENONE",
        "KID-PROTEIN-INTAKE",
        NO_ACEI_ARB,
        NO_STATIN_START,
        "re.zh:他汀",
    ),
)
case(
    "pregnancy-on-acei-and-arb",
    "pregnant on an ACE inhibitor and an ARB: stop both (teratogenic), not 'keep one'",
    facts(age=30, meds=("acei", "arb", "insulin"), pregnancy=True, hypertension=True),
    inc=("MED-PREG-TERATOGENS",),
    exc=("MED-ACEI-ARB-DUAL", "MED-RAAS-MONITOR", r"re.en:(?i)keep one"),
)
# --- type 1 -------------------------------------------------------------------------------------
case(
    "t1-young-adult-overweight",
    "24-year-old with type 1 for 8 years on insulin, HbA1c 8.1%, BMI 27: insulin-based care,"
    " no metformin, no sulfonylurea, no type 2 weight drugs",
    facts(
        age=24,
        sex="male",
        dm="type1",
        duration=8,
        meds=("insulin",),
        labs={**FULL_LABS, "hba1c": 8.1, "bmi": 27},
    ),
    inc=("GLY-GOAL-ADULT", "GLY-ABOVE-GOAL", "GLY-GLUCAGON", "GLY-HYPO-REVIEW"),
    exc=(
        "MED-METFORMIN-START",
        "MED-WEIGHT-GLP1",
        "MED-SGLT2I-CKD",
        "WT-LOSS-GENERAL",
        "MED-INSULIN-T1",
        NO_METFORMIN,
        NO_SULFONYLUREA,
    ),
)
case(
    "t1-ckd-albuminuria",
    "type 1 for 15 years with hypertension, eGFR 50, UACR 100: ACE inhibitor/ARB and CKD"
    " monitoring; SGLT2 inhibitor and finerenone rules are for type 2",
    facts(
        age=38,
        dm="type1",
        duration=15,
        meds=("insulin",),
        hypertension=True,
        ckd=True,
        labs={**FULL_LABS, "egfr": 50, "uacr": 100, "sbp": 136, "dbp": 84},
    ),
    inc=("BP-ACEI-ARB-ALBUMINURIA", "KID-MONITOR-CKD", "KID-PROTEIN-INTAKE", "LIP-YOUNG-RISK"),
    exc=("MED-SGLT2I-CKD", "MED-FINERENONE", "MED-METFORMIN-START", NO_METFORMIN),
)
# --- kidney function and metformin / SGLT2 inhibitors -------------------------------------------
case(
    "egfr-25-on-metformin",
    "eGFR 25, UACR 200 on metformin and an ARB: stop metformin (<30), SGLT2 inhibitor still"
    " appropriate (>=20), finerenone (>=25), nephrology, GLP-1 RA preferred for glucose",
    facts(
        age=68,
        meds=("metformin", "arb"),
        ckd=True,
        ckd_stage="4",
        hypertension=True,
        labs={**FULL_LABS, "egfr": 25, "uacr": 200},
    ),
    inc=(
        "MED-METFORMIN-STOP-EGFR",
        "MED-SGLT2I-CKD",
        "MED-FINERENONE",
        "KID-REFER-NEPHROLOGY",
        "MED-GLP1-ADVANCED-CKD",
    ),
    exc=("MED-METFORMIN-START", "MED-METFORMIN-REDUCE-EGFR", "MED-METFORMIN-B12"),
)
case(
    "egfr-18",
    "eGFR 18 with UACR 50 and hypertension: no SGLT2 inhibitor start (<20), no metformin, no"
    " finerenone (<25); nephrology referral, ACE inhibitor/ARB",
    facts(
        age=72,
        hypertension=True,
        ckd=True,
        labs={**FULL_LABS, "egfr": 18, "uacr": 50, "sbp": 138, "dbp": 78},
    ),
    inc=("KID-REFER-NEPHROLOGY", "BP-ACEI-ARB-ALBUMINURIA", "MED-GLP1-ADVANCED-CKD"),
    exc=("MED-SGLT2I-CKD", "MED-METFORMIN-START", "MED-FINERENONE"),
)
case(
    "normal-bp-normal-uacr-no-raas",
    "normal blood pressure, UACR and eGFR: an ACE inhibitor/ARB is not for primary prevention",
    facts(age=55, labs={**FULL_LABS, "sbp": 118, "dbp": 72, "uacr": 12, "egfr": 92}),
    exc=("BP-ACEI-ARB-ALBUMINURIA", "BP-ABOVE-GOAL", "MED-RAAS-MONITOR", NO_ACEI_ARB),
)
# --- heart failure ------------------------------------------------------------------------------
case(
    "hf-without-ascvd",
    "heart failure, no ASCVD, HbA1c at goal on metformin: SGLT2 inhibitor whatever the HbA1c;"
    " no ASCVD-specific advice",
    facts(age=66, sex="male", meds=("metformin",), heart_failure=True, ascvd=False),
    inc=("MED-SGLT2I-HF", "re.en:(?i)whatever the HbA1c"),
    exc=(
        "MED-CARDIORENAL-ASCVD",
        "MED-ANTIPLATELET-ASCVD",
        "LIP-ASCVD-GOAL",
        "LIP-ASCVD-START-STATIN",
        "GLY-ABOVE-GOAL",
    ),
)
# --- eyes ------------------------------------------------------------------------------------
case(
    "pdr-with-dme",
    "PDR with macular oedema in the right eye, moderate NPDR left: urgent referral",
    facts(age=58, meds=("metformin",), labs={**FULL_LABS, "hba1c": 8.8}),
    g=grading(("right", 4, True), ("left", 2, False)),
    inc=("EYE-REFER-URGENT-PDR", "EYE-EXERCISE-CAUTION", "re.en:(?i)urgent", "re.zh:紧急"),
    exc=("EYE-NONE-SCREEN", "EYE-MILD-YEARLY", RESCREEN_1_2_YEARS, "re.zh:1–2年"),
)
case(
    "severe-npdr-urgent",
    "severe NPDR: urgent referral, review every 3 months (CDS 2020)",
    facts(age=63, meds=("metformin",)),
    g=grading(("right", 3, False), ("left", 1, False)),
    inc=("EYE-REFER-URGENT-SEVERE", "EYE-REFER", "re.en:every 3 months", "re.zh:每3个月"),
    exc=("EYE-MILD-YEARLY", "EYE-NONE-SCREEN", "EYE-MODERATE-FOLLOWUP", RESCREEN_1_2_YEARS),
)
case(
    "moderate-npdr-interval",
    "moderate NPDR both eyes: refer; CDS 2020 follow-up every 3-6 months",
    facts(age=54, meds=("metformin",)),
    g=grading(("right", 2, False), ("left", 2, False)),
    inc=("EYE-REFER", "EYE-MODERATE-FOLLOWUP", "re.en:3–6 months", "re.zh:3–6个月"),
    exc=("EYE-NONE-SCREEN", "EYE-MILD-YEARLY", "EYE-REFER-URGENT-SEVERE", RESCREEN_1_2_YEARS),
)
case(
    "ungradable-both-eyes",
    "both eyes ungradable: retake or dilated exam; no grade-based interval, no referral claim",
    facts(age=61, meds=("metformin",)),
    g=grading(("right", None, False), ("left", None, False)),
    inc=("EYE-UNGRADABLE", "re.en:(?i)retake"),
    exc=("EYE-NONE-SCREEN", "EYE-MILD-YEARLY", "EYE-REFER", RESCREEN_1_2_YEARS, "re.en:every year"),
)
case(
    "mild-one-eye-other-ungradable",
    "mild NPDR in one eye, the other ungradable: retake, no yearly interval from half a picture",
    facts(age=57, meds=("metformin",)),
    g=grading(("right", 1, False), ("left", None, False)),
    inc=("EYE-UNGRADABLE",),
    exc=("EYE-MILD-YEARLY", "EYE-NONE-SCREEN", "EYE-REFER"),
)
case(
    "mild-npdr-both-eyes-annual",
    "mild NPDR both eyes: annual examination (ADA: at least annually; CDS: yearly)",
    facts(age=47, meds=("metformin",)),
    g=grading(("right", 1, False), ("left", 1, False)),
    inc=("EYE-MILD-YEARLY", "re.en:(?i)every year", "re.zh:每年"),
    exc=("EYE-REFER", "EYE-NONE-SCREEN", RESCREEN_1_2_YEARS),
)
case(
    "one-eye-photographed",
    "only the right eye photographed (no DR): photograph the other eye before any interval",
    facts(age=50, meds=("metformin",)),
    g=grading(("right", 0, False)),
    inc=("EYE-ONE-EYE-ONLY",),
    exc=("EYE-NONE-SCREEN", "EYE-NONE-PRIOR-DR"),
)
# --- missing and contradictory data ------------------------------------------------------------
case(
    "missing-everything",
    "type 2, no age, no labs, no smoking status, no images: measure, do not guess",
    facts(age=None, labs={}, smoking="unknown"),
    g=None,
    inc=(
        "MEAS-HBA1C",
        "MEAS-UACR",
        "MEAS-EGFR",
        "MEAS-LIPIDS",
        "MEAS-BP",
        "MEAS-BMI",
        "MEAS-EYE-EXAM",
        "MEAS-SMOKING",
    ),
    exc=(
        "GLY-ABOVE-GOAL",
        "BP-ABOVE-GOAL",
        "BP-TWO-DRUGS",
        "MED-SGLT2I-CKD",
        "KID-REFER-NEPHROLOGY",
        "LIP-PRIMARY-MODERATE",
        "LIP-PRIMARY-HIGH-RISK",
        "MED-WEIGHT-GLP1",
        "GLY-INSULIN-VERY-HIGH",
    ),
)
case(
    "hba1c-results-disagree",
    "two HbA1c results of the same day disagree: confirm before intensifying",
    facts(
        age=52,
        meds=("metformin",),
        labs={**FULL_LABS, "hba1c": 9.4},
        extra={"conflicting": ["hba1c"]},
    ),
    inc=("DATA-HBA1C-CONFLICT",),
    exc=("GLY-ABOVE-GOAL",),
)
# --- older adults ------------------------------------------------------------------------------
case(
    "elderly-very-complex",
    "86-year-old, severe frailty (very complex health), HbA1c 8.9% on insulin and a"
    " sulfonylurea, BP 146/80: no HbA1c target, BP goal <140/90, lower hypoglycaemia risk",
    facts(
        age=86,
        meds=("insulin", "sulfonylurea"),
        hypertension=True,
        labs={**FULL_LABS, "hba1c": 8.9, "sbp": 146, "dbp": 80},
    ),
    ctx={"severe_frailty": True},
    inc=("GLY-GOAL-VERY-COMPLEX", "MED-HYPO-RISK-OLDER", "BP-GOAL-FRAIL", "BP-ABOVE-GOAL-FRAIL"),
    exc=(
        "GLY-ABOVE-GOAL",
        "GLY-GOAL-ADULT",
        "GLY-GOAL-OLDER",
        "GLY-GOAL-RELAXED",
        "BP-TWO-DRUGS",
        "BP-GOAL-GENERAL",
        "EX-ADULT",
        "re.en:<7%",
        "re.en:<6.5%",
    ),
)
case(
    "older-hypoglycaemia-on-su",
    "70-year-old with hypoglycaemia on record on a sulfonylurea: <8.0% goal, reevaluate, glucagon",
    facts(age=70, meds=("sulfonylurea", "metformin"), labs={**FULL_LABS, "hba1c": 7.7}),
    ctx={"severe_hypoglycaemia_history": True},
    inc=("GLY-GOAL-RELAXED", "GLY-HYPO-REEVALUATE", "GLY-GLUCAGON", "MED-HYPO-RISK-OLDER"),
    exc=("GLY-GOAL-OLDER", "GLY-ABOVE-GOAL"),
)
case(
    "over-75-on-statin",
    "80-year-old already on a statin: continue it",
    facts(age=80, meds=("statin", "metformin")),
    inc=("LIP-CONTINUE-STATIN",),
    exc=("LIP-OVER75-CONSIDER", r"re:(?i)(stop|discontinue)\w*\s+(the\s+)?statin|停用他汀"),
)
# --- weight by population ---------------------------------------------------------------
case(
    "bmi-24.5-chinese",
    "BMI 24.5, Chinese patient: overweight by the CDS criteria (>=24)",
    facts(age=49, meds=("metformin",), labs={**FULL_LABS, "bmi": 24.5}),
    ctx={"population": "chinese"},
    inc=("WT-LOSS-CHINESE", "re.zh:≥24"),
    exc=("WT-LOSS-GENERAL", "MED-WEIGHT-GLP1"),
)
case(
    "bmi-24.5-us",
    "BMI 24.5, US general population: below the ADA overweight cut-off (25)",
    facts(age=49, meds=("metformin",), labs={**FULL_LABS, "bmi": 24.5}),
    ctx={"population": "general"},
    exc=("WT-LOSS-GENERAL", "WT-LOSS-CHINESE", "WT-LOSS-ASIAN-AMERICAN", "MED-WEIGHT-GLP1"),
)
case(
    "asian-american-obesity-28",
    "Asian American, BMI 28: obesity from 27.5 (ADA §8) -> weight-effective GLP-1 RA",
    facts(age=52, meds=("metformin",), labs={**FULL_LABS, "bmi": 28}),
    ctx={"population": "asian_american"},
    inc=("MED-WEIGHT-GLP1", "WT-LOSS-ASIAN-AMERICAN"),
    exc=("WT-LOSS-GENERAL",),
)
# --- smoking and alcohol -------------------------------------------------------------------------
case(
    "smoker-e-cigarettes",
    "current smoker asking about e-cigarettes: quit; e-cigarettes are not a recommended substitute",
    facts(age=44, sex="male", smoking="current", meds=("metformin",)),
    inc=("LIFE-SMOKING-QUIT", "re.en:(?i)e-cigarettes are not", "re.zh:电子烟"),
    exc=(r"re.en:(?i)(switch|change|move)\w*\s+to\s+e-?cig", "LIFE-ALCOHOL-LIMIT"),
)
case(
    "heavy-alcohol-on-sulfonylurea",
    "heavy drinker on a sulfonylurea: brief intervention, limits, delayed hypoglycaemia warning",
    facts(age=56, sex="female", meds=("sulfonylurea", "metformin")),
    ctx={"alcohol": "heavy"},
    inc=(
        "LIFE-ALCOHOL-HEAVY",
        "LIFE-ALCOHOL-LIMIT",
        "re.en:(?i)delayed hypoglycaemia",
        "re.zh:15 g",
    ),
    exc=("LIFE-ALCOHOL-PREGNANCY",),
)
