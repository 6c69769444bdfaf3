"""The words of ClinicalFacts for people, in English and Chinese: measurement labels and
their display precision, units as a person writes them, condition and fact headings, diabetes
types, drug classes, and the names of the facts' enums. Tables only; the formatting that uses
them is models.clinical_facts_display. Dict order is the clinical order where it matters."""

from __future__ import annotations

from dataclasses import dataclass

from models.clinical_facts import (
    CANONICAL_UNITS,
    AlcoholUse,
    DiabetesType,
    FrailtySeverity,
    MedicationClass,
    Population,
    Sex,
    SmokingStatus,
)

DISPLAY_LANGS: tuple[str, ...] = ("en", "zh")


@dataclass(frozen=True)
class Words:
    """One name in each display language."""

    en: str
    zh: str

    def in_(self, lang: str) -> str:
        return self.zh if check_lang(lang) == "zh" else self.en


def check_lang(lang: str) -> str:
    """`lang` as a plain string; a ValueError names the languages there are."""
    if lang not in DISPLAY_LANGS:
        raise ValueError(f"no display text in language {lang!r} (have {', '.join(DISPLAY_LANGS)})")
    return str(lang)


@dataclass(frozen=True)
class MeasurementDisplay:
    label: Words  # a row heading: "LDL cholesterol"
    short: Words  # inside a one-line summary: "LDL-C"
    decimals: int


# Clinical order: glycaemia, blood pressure and pulse, body size, lipids, kidney, liver.
MEASUREMENTS: dict[str, MeasurementDisplay] = {
    "hba1c": MeasurementDisplay(Words("HbA1c", "糖化血红蛋白"), Words("HbA1c", "HbA1c"), 1),
    "fasting_glucose": MeasurementDisplay(
        Words("Fasting glucose", "空腹血糖"), Words("fasting glucose", "空腹血糖"), 1
    ),
    "sbp": MeasurementDisplay(Words("Systolic BP", "收缩压"), Words("systolic BP", "收缩压"), 0),
    "dbp": MeasurementDisplay(Words("Diastolic BP", "舒张压"), Words("diastolic BP", "舒张压"), 0),
    "heart_rate": MeasurementDisplay(Words("Heart rate", "心率"), Words("heart rate", "心率"), 0),
    "bmi": MeasurementDisplay(Words("BMI", "体重指数"), Words("BMI", "BMI"), 1),
    "weight": MeasurementDisplay(Words("Weight", "体重"), Words("weight", "体重"), 1),
    "height": MeasurementDisplay(Words("Height", "身高"), Words("height", "身高"), 0),
    "total_cholesterol": MeasurementDisplay(
        Words("Total cholesterol", "总胆固醇"), Words("total cholesterol", "总胆固醇"), 1
    ),
    "ldl": MeasurementDisplay(
        Words("LDL cholesterol", "低密度脂蛋白胆固醇"), Words("LDL-C", "LDL-C"), 1
    ),
    "hdl": MeasurementDisplay(
        Words("HDL cholesterol", "高密度脂蛋白胆固醇"), Words("HDL-C", "HDL-C"), 1
    ),
    "triglycerides": MeasurementDisplay(
        Words("Triglycerides", "甘油三酯"), Words("triglycerides", "甘油三酯"), 1
    ),
    "egfr": MeasurementDisplay(Words("eGFR", "估算肾小球滤过率"), Words("eGFR", "eGFR"), 0),
    "uacr": MeasurementDisplay(
        Words("Albumin/creatinine ratio", "尿白蛋白/肌酐比值"), Words("UACR", "UACR"), 0
    ),
    "alt": MeasurementDisplay(Words("ALT", "丙氨酸氨基转移酶"), Words("ALT", "ALT"), 0),
    "ast": MeasurementDisplay(Words("AST", "天门冬氨酸氨基转移酶"), Words("AST", "AST"), 0),
    "ggt": MeasurementDisplay(Words("GGT", "γ-谷氨酰转移酶"), Words("GGT", "GGT"), 0),
}
MEASUREMENT_ORDER: tuple[str, ...] = tuple(MEASUREMENTS)
assert set(MEASUREMENTS) == set(CANONICAL_UNITS), "every canonical measurement has a display"

# The measurements a one-line summary names (blood pressure joins them as one "BP" item).
SUMMARY_MEASUREMENTS: tuple[str, ...] = ("hba1c", "bmi", "ldl", "egfr", "uacr")

# UCUM as the mappers write it (fhir_mappers.units) -> how a person writes it.
UNIT_TEXT: dict[str, str] = {
    "mm[Hg]": "mmHg",
    "kg/m2": "kg/m²",
    "mL/min/{1.73_m2}": "mL/min/1.73 m²",
    "mL/s/{1.73_m2}": "mL/s/1.73 m²",
    "[in_i]": "in",
    "[ft_i]": "ft",
    "[lb_av]": "lb",
    "[oz_av]": "oz",
    "[IU]/L": "IU/L",
    "ug/mg": "µg/mg",
    "a": "years",  # the advice's ages and durations (UCUM annum)
    "d": "days",
}
UNIT_TEXT_ZH: dict[str, str] = {"/min": "次/分", "a": "年", "d": "天"}

# ClinicalFacts conditions, in the order a clinician reads them.
CONDITIONS: dict[str, Words] = {
    "hypertension": Words("Hypertension", "高血压"),
    "ckd": Words("Chronic kidney disease", "慢性肾脏病"),
    "ascvd": Words("Cardiovascular disease", "动脉粥样硬化性心血管疾病"),
    "heart_failure": Words("Heart failure", "心力衰竭"),
    "prior_dr": Words("Prior retinopathy", "既往糖尿病视网膜病变"),
    "prior_dme": Words("Prior macular edema", "既往糖尿病黄斑水肿"),
    "pregnancy": Words("Pregnancy", "妊娠"),
}

# The other facts' headings, and the derived values the advice rules cite
# (models.advice.variables) so an item's "facts used" read in words.
FACT_LABELS: dict[str, Words] = {
    "age": Words("Age", "年龄"),
    "sex": Words("Sex", "性别"),
    "diabetes": Words("Diabetes", "糖尿病"),
    "diabetes_type": Words("Diabetes type", "糖尿病类型"),
    "diabetes_duration_years": Words("Diabetes duration", "糖尿病病程"),
    "ckd_stage": Words("CKD stage", "慢性肾脏病分期"),
    "smoking": Words("Smoking", "吸烟"),
    "alcohol": Words("Alcohol", "饮酒"),
    "frailty": Words("Frailty", "衰弱"),
    "frail": Words("Frailty", "衰弱"),
    "severe_frailty": Words("Severe frailty", "重度衰弱"),
    "frailty_score": Words("Clinical Frailty Scale", "临床衰弱量表评分"),
    "hypoglycaemia": Words("Hypoglycaemia", "低血糖"),
    "severe_hypoglycaemia_history": Words("Severe hypoglycaemia history", "严重低血糖史"),
    "limited_life_expectancy": Words("Limited life expectancy", "预期寿命有限"),
    "population": Words("BMI population", "BMI切点人群"),
    "last_eye_exam": Words("Last eye exam", "上次眼底检查"),
    "last_eye_exam_retinopathy": Words(
        "Retinopathy at the last eye exam", "上次眼底检查有视网膜病变"
    ),
    "eye_exam_age_days": Words("Time since the last eye exam", "距上次眼底检查"),
    "medication": Words("Medication", "用药"),
    "dr_grade_max": Words("Worse eye's DR grade (ICDR 0-4)", "较重眼DR分级（ICDR 0-4）"),
    "referable_any": Words("Referable DR in either eye", "任一眼需转诊的视网膜病变"),
    "dme_any": Words("Macular edema in either eye", "任一眼黄斑水肿"),
    "grading_present": Words("Fundus images graded", "眼底图像已分级"),
    "eyes_graded": Words("Eyes graded", "已分级眼数"),
    "eyes_ungradable": Words("Eyes ungradable", "不可分级眼数"),
    "eyes_assessed": Words("Eyes assessed", "已评估眼数"),
}

DIABETES_TYPES: dict[DiabetesType, Words] = {
    DiabetesType.TYPE1: Words("type 1", "1型"),
    DiabetesType.TYPE2: Words("type 2", "2型"),
    DiabetesType.GESTATIONAL: Words("gestational", "妊娠期"),
    DiabetesType.OTHER: Words("other type", "其他类型"),
    DiabetesType.UNSPECIFIED: Words("type not recorded", "类型未记录"),
}
DIABETES_NAMES: dict[DiabetesType, Words] = {
    DiabetesType.TYPE1: Words("type 1 diabetes", "1型糖尿病"),
    DiabetesType.TYPE2: Words("type 2 diabetes", "2型糖尿病"),
    DiabetesType.GESTATIONAL: Words("gestational diabetes", "妊娠期糖尿病"),
    DiabetesType.OTHER: Words("diabetes (other type)", "其他类型糖尿病"),
    DiabetesType.UNSPECIFIED: Words("diabetes", "糖尿病"),
}

# In the enum's order: glucose-lowering, lipid-lowering, blood pressure, antithrombotic.
DRUG_CLASSES: dict[MedicationClass, Words] = {
    MedicationClass.METFORMIN: Words("metformin", "二甲双胍"),
    MedicationClass.INSULIN: Words("insulin", "胰岛素"),
    MedicationClass.SGLT2I: Words("SGLT2 inhibitor", "SGLT2抑制剂"),
    MedicationClass.GLP1RA: Words("GLP-1 receptor agonist", "GLP-1受体激动剂"),
    MedicationClass.DPP4I: Words("DPP-4 inhibitor", "DPP-4抑制剂"),
    MedicationClass.SULFONYLUREA: Words("sulfonylurea", "磺脲类"),
    MedicationClass.TZD: Words("thiazolidinedione", "噻唑烷二酮类"),
    MedicationClass.ALPHA_GLUCOSIDASE_INHIBITOR: Words(
        "alpha-glucosidase inhibitor", "α-糖苷酶抑制剂"
    ),
    MedicationClass.GLINIDE: Words("glinide", "格列奈类"),
    MedicationClass.STATIN: Words("statin", "他汀类"),
    MedicationClass.EZETIMIBE: Words("ezetimibe", "依折麦布"),
    MedicationClass.PCSK9I: Words("PCSK9 inhibitor", "PCSK9抑制剂"),
    MedicationClass.FIBRATE: Words("fibrate", "贝特类"),
    MedicationClass.ACEI: Words("ACE inhibitor", "ACEI"),
    MedicationClass.ARB: Words("ARB", "ARB"),
    MedicationClass.ARNI: Words("ARNI", "ARNI"),
    MedicationClass.CCB: Words("calcium-channel blocker", "钙通道阻滞剂"),
    MedicationClass.THIAZIDE: Words("thiazide diuretic", "噻嗪类利尿剂"),
    MedicationClass.LOOP_DIURETIC: Words("loop diuretic", "袢利尿剂"),
    MedicationClass.MRA: Words("mineralocorticoid receptor antagonist", "盐皮质激素受体拮抗剂"),
    MedicationClass.BETA_BLOCKER: Words("beta blocker", "β受体阻滞剂"),
    MedicationClass.ANTIPLATELET: Words("antiplatelet", "抗血小板药"),
    MedicationClass.ANTICOAGULANT: Words("anticoagulant", "抗凝药"),
    MedicationClass.OTHER: Words("other class", "其他类别"),
}
assert set(DRUG_CLASSES) == set(MedicationClass), "every drug class has a name"

SEXES: dict[Sex, Words] = {
    Sex.MALE: Words("male", "男"),
    Sex.FEMALE: Words("female", "女"),
    Sex.OTHER: Words("other", "其他"),
    Sex.UNKNOWN: Words("sex unknown", "性别不详"),
}
SMOKING: dict[SmokingStatus, Words] = {
    SmokingStatus.CURRENT: Words("current smoker", "目前吸烟"),
    SmokingStatus.FORMER: Words("former smoker", "已戒烟"),
    SmokingStatus.NEVER: Words("never smoked", "从不吸烟"),
    SmokingStatus.UNKNOWN: Words("unknown", "不详"),
}
ALCOHOL: dict[AlcoholUse, Words] = {
    AlcoholUse.NONE: Words("none", "不饮酒"),
    AlcoholUse.MODERATE: Words("moderate", "适量"),
    AlcoholUse.HEAVY: Words("heavy", "过量"),
    AlcoholUse.UNKNOWN: Words("unknown", "不详"),
}
FRAILTY: dict[FrailtySeverity, Words] = {
    FrailtySeverity.MILD: Words("mild", "轻度"),
    FrailtySeverity.MODERATE: Words("moderate", "中度"),
    FrailtySeverity.SEVERE: Words("severe", "重度"),
}
POPULATIONS: dict[Population, Words] = {
    Population.GENERAL: Words("general", "一般人群"),
    Population.ASIAN_AMERICAN: Words("Asian American", "亚裔美国人"),
    Population.CHINESE: Words("Chinese", "中国人群"),
}
YES_NO: dict[bool, Words] = {True: Words("yes", "是"), False: Words("no", "否")}
