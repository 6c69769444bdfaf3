"""How ClinicalFacts read to a person, in one place, so the SMART review page, the demo
report, `deepdr-fhir screen` and `deepdr-fhir facts` say the same thing; each caller keeps
its own layout and takes the words, units and values from here.

Languages: "en" and "zh" (the values of models.advice.types.Lang, so a Lang works wherever
a language is asked for); the words themselves are in models.clinical_facts_words.

Values print with the precision laboratories report them in, the one the advice text uses
too (models.advice.variables): HbA1c 8.1 %, BP 148/86 mmHg, eGFR 38 mL/min/1.73 m²,
LDL-C 2.6 mmol/L; a converted value can say what the EHR sent (`sent_as`). Durations are
completed years, like ages. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from models.clinical_facts import (
    AlcoholFact,
    ClinicalFacts,
    DiabetesFact,
    DiabetesType,
    EyeExamFact,
    FrailtyFact,
    HypoglycaemiaFact,
    Measurement,
    MedicationClass,
    MedicationFact,
    PopulationFact,
    Sex,
    SmokingStatus,
)
from models.clinical_facts_words import (
    ALCOHOL,
    CONDITIONS,
    DIABETES_NAMES,
    DIABETES_TYPES,
    DISPLAY_LANGS,
    DRUG_CLASSES,
    FACT_LABELS,
    FRAILTY,
    MEASUREMENT_ORDER,
    MEASUREMENTS,
    POPULATIONS,
    SEXES,
    SMOKING,
    SUMMARY_MEASUREMENTS,
    UNIT_TEXT,
    UNIT_TEXT_ZH,
    YES_NO,
    Words,
    check_lang,
)


def _zh(lang: str) -> bool:
    return check_lang(lang) == "zh"


def _num(value: float) -> str:
    """A number as sent or scored: no float noise, no trailing zeros ('104.9', '7')."""
    return f"{value:.6g}" if abs(value) < 1e6 else f"{value:.0f}"


# --- measurements ------------------------------------------------------------------------


def measurement_label(name: str, lang: str = "en", *, short: bool = False) -> str:
    """'LDL cholesterol' (a heading) or 'LDL-C' (inside a sentence); unknown names as is."""
    shown = MEASUREMENTS.get(name)
    if shown is None:
        check_lang(lang)
        return name
    return (shown.short if short else shown.label).in_(lang)


def unit_text(ucum: str, lang: str = "en") -> str:
    """'mm[Hg]' -> 'mmHg', 'mL/min/{1.73_m2}' -> 'mL/min/1.73 m²'; other units as written."""
    if _zh(lang) and ucum in UNIT_TEXT_ZH:
        return UNIT_TEXT_ZH[ucum]
    return UNIT_TEXT.get(ucum, ucum)


def format_value(name: str, value: float) -> str:
    """The value with its measurement's reporting precision ('8.1', '38')."""
    shown = MEASUREMENTS.get(name)
    return f"{value:.{shown.decimals}f}" if shown is not None else _num(value)


def format_measurement(name: str, m: Measurement, lang: str = "en") -> str:
    """'8.1 %', '<5 mg/g', '148 mmHg': comparator, value, unit as a person writes it."""
    return f"{m.comparator or ''}{format_value(name, m.value)} {unit_text(m.unit, lang)}"


def sent_as(m: Measurement, lang: str = "en") -> str | None:
    """'sent as 104.9 mg/dL' when the value was converted from what the EHR sent."""
    if m.original_value is None or m.original_unit is None:
        check_lang(lang)
        return None
    if m.original_unit == m.unit and m.original_value == m.value:
        check_lang(lang)
        return None
    sent = f"{_num(m.original_value)} {unit_text(m.original_unit, lang)}"
    return f"原始值 {sent}" if _zh(lang) else f"sent as {sent}"


def in_clinical_order(measurements: Mapping[str, Measurement]) -> list[tuple[str, Measurement]]:
    """Glycaemia, blood pressure, body size, lipids, kidney, liver; then anything else in
    the record's order."""
    rank = {name: i for i, name in enumerate(MEASUREMENT_ORDER)}
    return sorted(measurements.items(), key=lambda kv: rank.get(kv[0], len(rank)))


def blood_pressure_text(facts: ClinicalFacts, lang: str = "en") -> str | None:
    """'BP 148/86 mmHg', or the one reading there is and which is missing; None for none."""
    sbp, dbp = facts.measurements.get("sbp"), facts.measurements.get("dbp")
    zh = _zh(lang)

    def value(name: str, m: Measurement) -> str:
        return f"{m.comparator or ''}{format_value(name, m.value)}"

    if sbp is not None and dbp is not None:
        both = f"{value('sbp', sbp)}/{value('dbp', dbp)} mmHg"
        return f"血压 {both}" if zh else f"BP {both}"
    if sbp is not None:
        known, m, missing = "sbp", sbp, Words("diastolic", "舒张压")
    elif dbp is not None:
        known, m, missing = "dbp", dbp, Words("systolic", "收缩压")
    else:
        return None
    # The advice's own wording (models.advice.variables): "(systolic not recorded)".
    shown = f"{measurement_label(known, lang, short=True)} {value(known, m)} mmHg"
    return f"{shown}（{missing.zh}未记录）" if zh else f"{shown} ({missing.en} not recorded)"


# --- labels and names ----------------------------------------------------------------------


def fact_label(name: str, lang: str = "en") -> str:
    """The heading of any fact: a measurement, a condition, another ClinicalFacts field or a
    value the advice rules derive ('diabetes_duration_years'); else the name in words."""
    zh = _zh(lang)
    if name in MEASUREMENTS:
        return measurement_label(name, lang)
    words = CONDITIONS.get(name) or FACT_LABELS.get(name)
    if words is not None:
        return words.in_(lang)
    # The advice's per-measurement and per-class variables (models.advice.variables).
    measured = name.removesuffix("_age_days").removesuffix("_conflict")
    if measured in MEASUREMENTS:
        label = measurement_label(measured, lang, short=True)
        if name.endswith("_age_days"):
            return f"距上次{label}检测" if zh else f"Time since the {label} result"
        return f"{label}同日结果不一致" if zh else f"Same-day {label} results disagree"
    if name.startswith("on_") and name[3:] in _CLASS_VALUES:
        drug = drug_class_name(MedicationClass(name[3:]), lang)
        return f"使用{drug}" if zh else f"On {drug}"
    return name.replace("_", " ")


_CLASS_VALUES = frozenset(c.value for c in MedicationClass)
# Facts the advice cites by their enum value ("type2", "current"), and their names.
_ENUM_FACTS: dict[str, Mapping[Any, Words]] = {
    "diabetes_type": DIABETES_TYPES,
    "smoking": SMOKING,
    "alcohol": ALCOHOL,
    "population": POPULATIONS,
    "sex": SEXES,
}


def fact_value_text(name: str, value: str, lang: str = "en") -> str:
    """A value as the advice cites it (FactUsed.value: '%g' numbers, 'yes', enum values) in
    the words and precision of the facts views: ('ldl', '2.71271') -> '2.7',
    ('smoking', 'current') -> 'current smoker'; anything else as it came."""
    if value in ("yes", "no"):
        return yes_no(value == "yes", lang)
    table = _ENUM_FACTS.get(name)
    if table is not None:
        words = next((w for key, w in table.items() if key == value), None)
        return words.in_(lang) if words is not None else value
    check_lang(lang)
    if name in MEASUREMENTS:
        try:
            return format_value(name, float(value))
        except ValueError:
            return value  # not a number: as the rule wrote it
    return value


def yes_no(value: bool, lang: str = "en") -> str:
    return YES_NO[value].in_(lang)


def sex_name(sex: Sex, lang: str = "en") -> str:
    return SEXES[sex].in_(lang)


def smoking_name(status: SmokingStatus, lang: str = "en") -> str:
    return SMOKING[status].in_(lang)


def diabetes_type_name(kind: DiabetesType, lang: str = "en") -> str:
    """'type 2', 'gestational', 'type not recorded'."""
    return DIABETES_TYPES[kind].in_(lang)


def diabetes_name(kind: DiabetesType, lang: str = "en") -> str:
    """'type 2 diabetes'; plain 'diabetes' when the type is not recorded."""
    return DIABETES_NAMES[kind].in_(lang)


def duration_text(years: float, lang: str = "en") -> str:
    """Completed years ('16 years', '1 year'); 'under a year' below one."""
    zh = _zh(lang)
    if years < 1:
        return "不足1年" if zh else "under a year"
    n = int(years)
    return f"{n}年" if zh else f"{n} year{'s' if n != 1 else ''}"


def diabetes_text(d: DiabetesFact, lang: str = "en") -> str:
    """'type 2 diabetes for 16 years'; 'no diabetes' when the record says it is over."""
    zh = _zh(lang)
    if not d.present:
        return "无糖尿病" if zh else "no diabetes"
    name = diabetes_name(d.type, lang)
    if d.duration_years is None:
        return name
    years = duration_text(d.duration_years, lang)
    return f"{name}，病程{years}" if zh else f"{name} for {years}"


def age_text(years: int, lang: str = "en") -> str:
    return f"{years}岁" if _zh(lang) else f"{years} years"


def drug_class_name(cls: MedicationClass, lang: str = "en") -> str:
    return DRUG_CLASSES[cls].in_(lang)


def drug_class_names(classes: Iterable[MedicationClass], lang: str = "en") -> list[str]:
    """Each class once, glucose-lowering first, then lipids, blood pressure, antithrombotic."""
    present = set(classes)
    return [words.in_(lang) for cls, words in DRUG_CLASSES.items() if cls in present]


def medication_text(med: MedicationFact, lang: str = "en") -> str:
    """'lisinopril 20 MG (ACE inhibitor)'; the class only where the name does not say it."""
    words = DRUG_CLASSES[med.drug_class]
    name = med.name.lower()
    if med.drug_class == MedicationClass.OTHER or words.en.lower() in name or words.zh in name:
        check_lang(lang)
        return med.name
    cls = words.in_(lang)
    return f"{med.name}（{cls}）" if _zh(lang) else f"{med.name} ({cls})"


# --- the other facts the advice reads -----------------------------------------------------


def frailty_text(f: FrailtyFact, lang: str = "en") -> str:
    """'severe, Clinical Frailty Scale 7', 'yes', 'no'."""
    zh = _zh(lang)
    if not f.present:
        text = yes_no(False, lang)
    else:
        text = FRAILTY[f.severity].in_(lang) if f.severity else yes_no(True, lang)
    if f.score is not None:
        text += (
            f"，临床衰弱量表{_num(f.score)}分"
            if zh
            else f", Clinical Frailty Scale {_num(f.score)}"
        )
    return text


def hypoglycaemia_text(h: HypoglycaemiaFact, lang: str = "en") -> str:
    """'yes, with coma, 2 records'."""
    if _zh(lang):
        return (
            "是" + ("，伴昏迷" if h.coma else "") + (f"，共{h.count}条记录" if h.count > 1 else "")
        )
    return (
        "yes" + (", with coma" if h.coma else "") + (f", {h.count} records" if h.count > 1 else "")
    )


def alcohol_text(a: AlcoholFact, lang: str = "en") -> str:
    """'heavy, 3 drinks/day, AUDIT-C 6'."""
    zh = _zh(lang)
    details = []
    if a.drinks_per_day is not None:
        n = _num(a.drinks_per_day)
        details.append(f"每天{n}杯" if zh else f"{n} drinks/day")
    if a.audit_c is not None:
        details.append(f"AUDIT-C {_num(a.audit_c)}")
    sep = "，" if zh else ", "
    return sep.join([ALCOHOL[a.use].in_(lang), *details])


def population_text(p: PopulationFact, lang: str = "en") -> str:
    """'Chinese (address country CN)': whose BMI cut-offs apply, and what said so."""
    name = POPULATIONS[p.population].in_(lang)
    return f"{name}（{p.basis}）" if _zh(lang) else f"{name} ({p.basis})"


def eye_exam_text(e: EyeExamFact, lang: str = "en") -> str:
    """'Procedure, no retinopathy': what the exam record is and its finding when stated."""
    zh = _zh(lang)
    if e.retinopathy is None:
        return e.kind
    if zh:
        return e.kind + ("，有视网膜病变" if e.retinopathy else "，无视网膜病变")
    return e.kind + (", retinopathy" if e.retinopathy else ", no retinopathy")


# --- one line -----------------------------------------------------------------------------


def summary_line(facts: ClinicalFacts, lang: str = "en") -> str:
    """One line a clinician reads: who, diabetes and for how long, the key results with
    units in clinical order (HbA1c, BP, BMI, LDL-C, eGFR, UACR), the drug classes."""
    zh = _zh(lang)
    parts = []
    who = [age_text(facts.age_years, lang)] if facts.age_years is not None else []
    if facts.sex != Sex.UNKNOWN:
        who.append(sex_name(facts.sex, lang))
    if who:
        parts.append(("，" if zh else ", ").join(who))
    if facts.diabetes is not None and facts.diabetes.present:
        parts.append(diabetes_text(facts.diabetes, lang))
    for name in SUMMARY_MEASUREMENTS:
        m = facts.measurements.get(name)
        if m is not None:
            parts.append(
                f"{measurement_label(name, lang, short=True)} {format_measurement(name, m, lang)}"
            )
        if name == "hba1c" and (bp := blood_pressure_text(facts, lang)) is not None:
            parts.append(bp)
    classes = drug_class_names(facts.medication_classes, lang)
    if classes:
        parts.append("用药：" + "、".join(classes) if zh else "on " + ", ".join(classes))
    if not parts:
        return "未找到临床资料" if zh else "no facts found"
    return ("；" if zh else "; ").join(parts)


__all__ = [
    "CONDITIONS",
    "DISPLAY_LANGS",
    "MEASUREMENT_ORDER",
    "age_text",
    "alcohol_text",
    "blood_pressure_text",
    "diabetes_name",
    "diabetes_text",
    "diabetes_type_name",
    "drug_class_name",
    "drug_class_names",
    "duration_text",
    "eye_exam_text",
    "fact_label",
    "fact_value_text",
    "format_measurement",
    "format_value",
    "frailty_text",
    "hypoglycaemia_text",
    "in_clinical_order",
    "measurement_label",
    "medication_text",
    "population_text",
    "sent_as",
    "sex_name",
    "smoking_name",
    "summary_line",
    "unit_text",
    "yes_no",
]
