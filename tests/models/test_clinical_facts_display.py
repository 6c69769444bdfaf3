"""models.clinical_facts_display: the words, units, precision and order every people-facing
view of ClinicalFacts takes (review page, demo, `screen`, `facts`), in English and Chinese."""

from __future__ import annotations

from datetime import date

import pytest

from models import clinical_facts_display as display
from models.advice.types import Lang
from models.advice.variables import Var, display_values
from models.clinical_facts import (
    CANONICAL_UNITS,
    AlcoholFact,
    AlcoholUse,
    ClinicalFacts,
    DiabetesFact,
    DiabetesType,
    EyeExamFact,
    FrailtyFact,
    FrailtySeverity,
    HypoglycaemiaFact,
    Measurement,
    MedicationClass,
    MedicationFact,
    Population,
    PopulationFact,
    Sex,
)
from models.clinical_facts_words import DRUG_CLASSES


def m(value: float, unit: str, **kw: object) -> Measurement:
    return Measurement.model_validate(
        {"source": "Observation/1", "value": value, "unit": unit, **kw}
    )


def med(name: str, cls: MedicationClass) -> MedicationFact:
    return MedicationFact(source="MedicationRequest/1", name=name, drug_class=cls)


def facts(**kw: object) -> ClinicalFacts:
    return ClinicalFacts.model_validate(
        {"patient_ref": "Patient/1", "as_of": date(2025, 1, 1), **kw}
    )


@pytest.mark.parametrize(
    ("name", "value", "unit", "shown"),
    [
        ("hba1c", 6.909, "%", "6.9 %"),  # IFCC 52 mmol/mol converted: no false precision
        ("hba1c", 8.0, "%", "8.0 %"),  # HbA1c keeps its decimal
        ("sbp", 147.6, "mm[Hg]", "148 mmHg"),
        ("egfr", 38.04, "mL/min/{1.73_m2}", "38 mL/min/1.73 m²"),
        ("ldl", 104.9 / 38.67, "mmol/L", "2.7 mmol/L"),
        ("bmi", 30.14, "kg/m2", "30.1 kg/m²"),
        ("uacr", 110.4, "mg/g", "110 mg/g"),
        ("alt", 31, "U/L", "31 U/L"),
        ("heart_rate", 72, "/min", "72 /min"),
    ],
)
def test_measurements_print_with_reporting_precision_and_readable_units(
    name: str, value: float, unit: str, shown: str
) -> None:
    assert display.format_measurement(name, m(value, unit)) == shown


def test_a_bound_keeps_its_comparator_and_an_unknown_name_its_value() -> None:
    assert display.format_measurement("uacr", m(5, "mg/g", comparator="<")) == "<5 mg/g"
    assert display.format_value("something_new", 0.123456789) == "0.123457"


def test_sent_as_only_when_the_value_was_converted() -> None:
    ldl = m(2.71, "mmol/L", original_value=104.9, original_unit="mg/dL")
    assert display.sent_as(ldl) == "sent as 104.9 mg/dL"
    assert display.sent_as(ldl, "zh") == "原始值 104.9 mg/dL"
    weight = m(74.8, "kg", original_value=165.0, original_unit="[lb_av]")
    assert display.sent_as(weight) == "sent as 165 lb"
    assert display.sent_as(m(7.5, "%")) is None
    assert display.sent_as(m(7.5, "%", original_value=7.5, original_unit="%")) is None


def test_every_canonical_measurement_has_a_label_in_both_languages_and_its_unit() -> None:
    assert set(display.MEASUREMENT_ORDER) == set(CANONICAL_UNITS)
    for name in CANONICAL_UNITS:
        en, zh = display.measurement_label(name), display.measurement_label(name, "zh")
        assert en and zh and en != name
    assert display.measurement_label("ldl", short=True) == "LDL-C"
    assert display.unit_text("/min", "zh") == "次/分"


def test_clinical_order_puts_glycaemia_first_and_unknown_names_last() -> None:
    record = {
        "alt": m(31, "U/L"),
        "zzz_new": m(1, "1"),
        "egfr": m(60, "mL/min/{1.73_m2}"),
        "sbp": m(130, "mm[Hg]"),
        "hba1c": m(7.1, "%"),
        "ldl": m(2.0, "mmol/L"),
    }
    order = [name for name, _ in display.in_clinical_order(record)]
    assert order == ["hba1c", "sbp", "ldl", "egfr", "alt", "zzz_new"]


def test_blood_pressure_says_which_reading_is_missing() -> None:
    both = facts(measurements={"sbp": m(148, "mm[Hg]"), "dbp": m(86.4, "mm[Hg]")})
    assert display.blood_pressure_text(both) == "BP 148/86 mmHg"
    assert display.blood_pressure_text(both, "zh") == "血压 148/86 mmHg"
    dbp_only = facts(measurements={"dbp": m(84, "mm[Hg]")})
    assert display.blood_pressure_text(dbp_only) == "diastolic BP 84 mmHg (systolic not recorded)"
    assert display.blood_pressure_text(dbp_only, "zh") == "舒张压 84 mmHg（收缩压未记录）"
    assert display.blood_pressure_text(facts()) is None


@pytest.mark.parametrize(
    ("years", "en", "zh"),
    [(0.3, "under a year", "不足1年"), (1.0, "1 year", "1年"), (19.9, "19 years", "19年")],
)
def test_durations_are_completed_years(years: float, en: str, zh: str) -> None:
    assert display.duration_text(years) == en and display.duration_text(years, "zh") == zh


def test_diabetes_in_words() -> None:
    t2 = DiabetesFact(source="Condition/1", type=DiabetesType.TYPE2, duration_years=0.3)
    assert display.diabetes_text(t2) == "type 2 diabetes for under a year"
    assert display.diabetes_text(t2, "zh") == "2型糖尿病，病程不足1年"
    untyped = DiabetesFact(source="Condition/1")
    assert display.diabetes_text(untyped) == "diabetes"
    assert display.diabetes_type_name(DiabetesType.UNSPECIFIED) == "type not recorded"
    over = DiabetesFact(source="Condition/1", present=False, type=DiabetesType.GESTATIONAL)
    assert display.diabetes_text(over) == "no diabetes"


def test_every_drug_class_has_words_and_classes_list_in_clinical_order() -> None:
    for cls in MedicationClass:
        assert display.drug_class_name(cls) and display.drug_class_name(cls, "zh")
        assert "_" not in display.drug_class_name(cls)  # words, never the code
    assert display.drug_class_name(MedicationClass.SGLT2I) == "SGLT2 inhibitor"
    assert display.drug_class_name(MedicationClass.GLP1RA, "zh") == "GLP-1受体激动剂"
    shown = display.drug_class_names(
        [
            MedicationClass.STATIN,
            MedicationClass.ACEI,
            MedicationClass.METFORMIN,
            MedicationClass.ACEI,
        ]
    )
    assert shown == ["metformin", "statin", "ACE inhibitor"]
    assert list(DRUG_CLASSES) == list(MedicationClass)


def test_medication_names_its_class_only_where_the_name_does_not() -> None:
    assert display.medication_text(med("lisinopril 20 MG", MedicationClass.ACEI)) == (
        "lisinopril 20 MG (ACE inhibitor)"
    )
    assert display.medication_text(med("Metformin 500 MG", MedicationClass.METFORMIN)) == (
        "Metformin 500 MG"
    )
    assert display.medication_text(med("aspirin", MedicationClass.ANTIPLATELET), "zh") == (
        "aspirin（抗血小板药）"
    )
    assert display.medication_text(med("mystery pill", MedicationClass.OTHER)) == "mystery pill"


def test_the_other_facts_the_advice_reads() -> None:
    frail = FrailtyFact(source="Observation/f", severity=FrailtySeverity.SEVERE, score=7)
    assert display.frailty_text(frail) == "severe, Clinical Frailty Scale 7"
    assert display.frailty_text(frail, "zh") == "重度，临床衰弱量表7分"
    assert display.frailty_text(FrailtyFact(source="Condition/f", present=False)) == "no"
    hypo = HypoglycaemiaFact(source="Condition/h", coma=True, count=2)
    assert display.hypoglycaemia_text(hypo) == "yes, with coma, 2 records"
    alcohol = AlcoholFact(source="Observation/a", use=AlcoholUse.HEAVY, drinks_per_day=3, audit_c=6)
    assert display.alcohol_text(alcohol) == "heavy, 3 drinks/day, AUDIT-C 6"
    pop = PopulationFact(
        source="Patient/1", population=Population.CHINESE, basis="address country CN"
    )
    assert display.population_text(pop) == "Chinese (address country CN)"
    exam = EyeExamFact(source="Procedure/e", kind="Procedure", retinopathy=False)
    assert display.eye_exam_text(exam) == "Procedure, no retinopathy"
    assert display.eye_exam_text(exam.model_copy(update={"retinopathy": None})) == "Procedure"


def test_fact_labels_cover_measurements_conditions_and_derived_values() -> None:
    assert display.fact_label("uacr") == "Albumin/creatinine ratio"
    assert display.fact_label("ckd") == "Chronic kidney disease"
    assert display.fact_label("diabetes_duration_years") == "Diabetes duration"
    assert display.fact_label("ckd", "zh") == "慢性肾脏病"
    assert display.fact_label("hba1c_age_days") == "Time since the HbA1c result"
    assert display.fact_label("ldl_conflict", "zh") == "LDL-C同日结果不一致"
    assert display.fact_label("on_sglt2i") == "On SGLT2 inhibitor"
    assert display.fact_label("something_new") == "something new"  # no label: the name


def test_values_the_advice_cites_read_like_the_facts_views() -> None:
    assert display.fact_value_text("ldl", "2.71271") == "2.7"
    assert display.fact_value_text("ldl", "high") == "high"  # not a number: as it came
    assert display.fact_value_text("smoking", "current") == "current smoker"
    assert display.fact_value_text("diabetes_type", "type2", "zh") == "2型"
    assert display.fact_value_text("population", "mars") == "mars"
    assert display.fact_value_text("referable_any", "no", "zh") == "否"
    assert display.fact_value_text("ckd_stage", "3b") == "3b"


def test_summary_line_reads_in_clinical_order_with_units() -> None:
    record = facts(
        age_years=67,
        sex=Sex.MALE,
        diabetes=DiabetesFact(source="Condition/1", type=DiabetesType.TYPE2, duration_years=18.6),
        measurements={
            "uacr": m(110, "mg/g"),
            "egfr": m(38.04, "mL/min/{1.73_m2}"),
            "ldl": m(2.81, "mmol/L"),
            "sbp": m(148, "mm[Hg]"),
            "dbp": m(86, "mm[Hg]"),
            "hba1c": m(8.04, "%"),
            "alt": m(31, "U/L"),  # not a headline result
        },
        medications=(
            med("atorvastatin", MedicationClass.STATIN),
            med("lisinopril", MedicationClass.ACEI),
            med("metformin", MedicationClass.METFORMIN),
        ),
    )
    assert display.summary_line(record) == (
        "67 years, male; type 2 diabetes for 18 years; HbA1c 8.0 %; BP 148/86 mmHg; "
        "LDL-C 2.8 mmol/L; eGFR 38 mL/min/1.73 m²; UACR 110 mg/g; "
        "on metformin, statin, ACE inhibitor"
    )
    assert display.summary_line(record, Lang.ZH) == (
        "67岁，男；2型糖尿病，病程18年；HbA1c 8.0 %；血压 148/86 mmHg；"
        "LDL-C 2.8 mmol/L；eGFR 38 mL/min/1.73 m²；UACR 110 mg/g；"
        "用药：二甲双胍、他汀类、ACEI"
    )
    assert display.summary_line(facts()) == "no facts found"


def test_an_unknown_language_is_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match="no display text in language 'fr'"):
        display.format_measurement("hba1c", m(7, "%"), "fr")
    with pytest.raises(ValueError):
        display.summary_line(facts(), "fr")
    assert set(display.DISPLAY_LANGS) == {lang.value for lang in Lang}


@pytest.mark.parametrize("value", [0.96, 2.45, 7.54, 38.04, 86.5, 99.4])  # plausible for all
@pytest.mark.parametrize(
    "name",
    [
        "hba1c",
        "fasting_glucose",
        "sbp",
        "dbp",
        "heart_rate",
        "bmi",
        "ldl",
        "hdl",
        "triglycerides",
        "total_cholesterol",
        "egfr",
        "uacr",
    ],
)
def test_values_agree_with_the_advice_text(name: str, value: float) -> None:
    """The advice cites these results in its sentences (models.advice.variables); the facts
    views must print the same number beside it."""
    cited = display_values({name: Var(value)})[name]
    assert display.format_value(name, value) == cited
