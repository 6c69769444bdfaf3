"""The first 51 evaluation cases, continued: pregnancy, missing data, cardiovascular risk,
medication classes, weight and lifestyle."""

from __future__ import annotations

from models.advice.eval.builders import FULL_LABS, OLD, STOP_STATIN, case, facts

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
