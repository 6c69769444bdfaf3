"""Conditions: diabetes type and duration, comorbidities, prior DR/DME, pregnancy; every code
system and status rule in conditions.py."""

from __future__ import annotations

from typing import Any

import pytest

from models.clinical_facts import DiabetesType

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10 = "http://hl7.org/fhir/sid/icd-10"


def _code(fhir: Any, system: str, code: str, display: str | None = None) -> dict[str, Any]:
    return fhir.concept(system, code, display)


@pytest.mark.parametrize(
    ("system", "code", "dtype"),
    [
        (SNOMED, "44054006", DiabetesType.TYPE2),
        (SNOMED, "46635009", DiabetesType.TYPE1),
        (SNOMED, "73211009", DiabetesType.UNSPECIFIED),
        (SNOMED, "190330002", DiabetesType.TYPE1),  # T1DM with hyperosmolar coma (descendant)
        (SNOMED, "313436004", DiabetesType.TYPE2),  # T2DM without complication
        (SNOMED, "426875007", DiabetesType.TYPE1),  # LADA
        (SNOMED, "11687002", DiabetesType.GESTATIONAL),
        (SNOMED, "609561005", DiabetesType.OTHER),  # MODY
        (ICD10CM, "E11.9", DiabetesType.TYPE2),
        (ICD10CM, "E119", DiabetesType.TYPE2),  # no dot
        (ICD10CM, "e11.65", DiabetesType.TYPE2),  # lower case
        (ICD10CM, "E10.9", DiabetesType.TYPE1),
        (ICD10CM, "E13.9", DiabetesType.OTHER),
        (ICD10CM, "E08.65", DiabetesType.OTHER),
        (ICD10CM, "O24.410", DiabetesType.GESTATIONAL),
        (ICD10CM, "O24.011", DiabetesType.TYPE1),
        (ICD10, "E11", DiabetesType.TYPE2),  # WHO 3-character
        (ICD10, "E14.9", DiabetesType.UNSPECIFIED),
        ("http://hl7.org/fhir/sid/icd-10-gm", "E11.90", DiabetesType.TYPE2),  # German modification
        ("urn:oid:2.16.840.1.113883.6.90", "E11.9", DiabetesType.TYPE2),  # ICD-10-CM by OID
        ("urn:oid:2.16.840.1.113883.6.96", "44054006", DiabetesType.TYPE2),  # SNOMED by OID
    ],
)
def test_diabetes_type_from_every_code_system(
    fhir: Any, system: str, code: str, dtype: DiabetesType
) -> None:
    facts = fhir.facts(fhir.cond(_code(fhir, system, code), onsetDateTime="2015-06-30"))
    assert facts.diabetes is not None and facts.diabetes.present
    assert facts.diabetes.type == dtype
    assert facts.diabetes.duration_years == 10.0
    assert facts.diabetes.source.startswith("Condition/")


@pytest.mark.parametrize(
    ("system", "code", "display"),
    [
        (SNOMED, "15777000", "Prediabetes"),
        (SNOMED, "160303001", "Family history of diabetes mellitus"),
        (ICD10CM, "R73.03", "Prediabetes"),
        (ICD10CM, "Z83.3", "Family history of diabetes mellitus"),
        (SNOMED, "999999999", "Family history: diabetes"),
        (SNOMED, "999999998", "Diabetes insipidus"),
        (SNOMED, "999999997", "Diabetic retinopathy screening (procedure)"),
    ],
)
def test_not_diabetes(fhir: Any, system: str, code: str, display: str) -> None:
    facts = fhir.facts(fhir.cond(_code(fhir, system, code, display)))
    assert facts.diabetes is None


def test_duration_from_onset_forms(fhir: Any) -> None:
    def duration(**onset: Any) -> float | None:
        facts = fhir.facts(fhir.cond(_code(fhir, SNOMED, "46635009"), **onset))
        assert facts.diabetes is not None
        return facts.diabetes.duration_years

    assert duration(onsetDateTime="2005-06-30T10:00:00+08:00") == 20.0
    assert duration(onsetDateTime="2005") == 20.5  # year only: 1 January
    assert duration(onsetPeriod={"start": "2015-06-30"}) == 10.0
    # onsetAge: birth 1960-01-15 (fixture patient) + 10 years
    assert (
        duration(
            onsetAge={
                "value": 10,
                "unit": "years",
                "system": "http://unitsofmeasure.org",
                "code": "a",
            }
        )
        == 55.5
    )
    assert duration(onsetString="diagnosed in 2015, unclear month") == 10.5
    assert duration(onsetString="childhood") is None


def test_duration_falls_back_to_recorded_date_with_a_warning(fhir: Any) -> None:
    facts = fhir.facts(fhir.cond(_code(fhir, ICD10CM, "E11.9"), recordedDate="2020-06-30"))
    assert facts.diabetes is not None and facts.diabetes.duration_years == 5.0
    assert any("duration counted from recordedDate" in w for w in facts.warnings)


def test_duration_uses_the_earliest_onset_of_all_diabetes_records(fhir: Any) -> None:
    facts = fhir.facts(
        fhir.cond(_code(fhir, SNOMED, "44054006"), rid="late", onsetDateTime="2020-06-30"),
        fhir.cond(_code(fhir, ICD10CM, "E11.3293"), rid="early", onsetDateTime="2010-06-30"),
    )
    d = facts.diabetes
    assert d is not None and d.duration_years == 15.0 and d.onset is not None
    assert d.onset.isoformat() == "2010-06-30"


def test_onset_after_as_of_gives_no_duration(fhir: Any) -> None:
    facts = fhir.facts(fhir.cond(_code(fhir, SNOMED, "44054006"), onsetDateTime="2030-01-01"))
    assert facts.diabetes is not None and facts.diabetes.duration_years is None
    assert any("onset after as_of" in w for w in facts.warnings)


def test_conflicting_types_are_resolved_and_reported(fhir: Any) -> None:
    facts = fhir.facts(
        fhir.cond(_code(fhir, SNOMED, "44054006"), recordedDate="2020-01-01"),
        fhir.cond(_code(fhir, ICD10CM, "E11.9"), recordedDate="2021-01-01"),
        fhir.cond(_code(fhir, ICD10CM, "E10.9"), recordedDate="2024-01-01"),
    )
    assert facts.diabetes is not None and facts.diabetes.type == DiabetesType.TYPE2
    assert any("conflicting diabetes types (type1, type2); used type2" in w for w in facts.warnings)


def test_pre_existing_type_outranks_gestational(fhir: Any) -> None:
    facts = fhir.facts(
        fhir.cond(_code(fhir, SNOMED, "11687002")),
        fhir.cond(_code(fhir, SNOMED, "44054006")),
    )
    assert facts.diabetes is not None and facts.diabetes.type == DiabetesType.TYPE2


@pytest.mark.parametrize(
    ("clinical", "present"),
    [
        ("active", True),
        ("recurrence", True),
        ("relapse", True),
        ("remission", True),  # diabetes in remission still counts
        ("inactive", False),
        ("resolved", False),
    ],
)
def test_diabetes_clinical_status(fhir: Any, clinical: str, present: bool) -> None:
    facts = fhir.facts(fhir.cond(_code(fhir, SNOMED, "44054006"), clinical=clinical))
    assert facts.diabetes is not None and facts.diabetes.present is present
    assert facts.diabetes.clinical_status == clinical


@pytest.mark.parametrize(
    ("clinical", "present"),
    [("active", True), ("remission", False), ("inactive", False), ("resolved", False)],
)
def test_hypertension_clinical_status(fhir: Any, clinical: str, present: bool) -> None:
    facts = fhir.facts(fhir.cond(_code(fhir, SNOMED, "59621000"), clinical=clinical))
    assert facts.hypertension is not None and facts.hypertension.present is present


def test_abatement_without_status_means_over(fhir: Any) -> None:
    facts = fhir.facts(
        fhir.cond(_code(fhir, SNOMED, "38341003"), clinical=None, abatementDateTime="2020-01-01")
    )
    assert facts.hypertension is not None and not facts.hypertension.present


def test_no_status_and_no_abatement_means_current(fhir: Any) -> None:
    facts = fhir.facts(fhir.cond(_code(fhir, SNOMED, "38341003"), clinical=None))
    assert facts.hypertension is not None and facts.hypertension.present


def test_active_with_abatement_trusts_the_status_and_warns(fhir: Any) -> None:
    facts = fhir.facts(fhir.cond(_code(fhir, SNOMED, "38341003"), abatementDateTime="2020-01-01"))
    assert facts.hypertension is not None and facts.hypertension.present
    assert any("with an abatement" in w for w in facts.warnings)


@pytest.mark.parametrize("verification", ["refuted", "entered-in-error"])
def test_refuted_and_entered_in_error_are_ignored(fhir: Any, verification: str) -> None:
    facts = fhir.facts(
        fhir.cond(_code(fhir, SNOMED, "44054006"), verification=verification, rid="bad"),
        fhir.cond(_code(fhir, SNOMED, "38341003"), verification=verification),
    )
    assert facts.diabetes is None and facts.hypertension is None
    assert f"Condition/bad: ignored (verificationStatus {verification})" in facts.warnings


@pytest.mark.parametrize("verification", ["provisional", "differential", "unconfirmed"])
def test_unconfirmed_diagnoses_are_used_with_a_warning(fhir: Any, verification: str) -> None:
    facts = fhir.facts(fhir.cond(_code(fhir, SNOMED, "38341003"), verification=verification))
    assert facts.hypertension is not None and facts.hypertension.present
    assert any(f"verificationStatus {verification}" in w for w in facts.warnings)


def test_resolved_and_current_records_current_wins(fhir: Any) -> None:
    facts = fhir.facts(
        fhir.cond(_code(fhir, SNOMED, "38341003"), clinical="resolved", rid="old"),
        fhir.cond(_code(fhir, ICD10CM, "I10"), rid="now", onsetDateTime="2019-01-01"),
    )
    assert facts.hypertension is not None and facts.hypertension.present
    assert facts.hypertension.source == "Condition/now"


@pytest.mark.parametrize(
    ("system", "code", "stage"),
    [
        (SNOMED, "709044004", None),
        (SNOMED, "431855005", "1"),
        (SNOMED, "431856006", "2"),
        (SNOMED, "433144002", "3"),
        (SNOMED, "700378005", "3a"),
        (SNOMED, "700379002", "3b"),
        (SNOMED, "431857002", "4"),
        (SNOMED, "433146000", "5"),
        (SNOMED, "46177005", "5"),  # end-stage renal disease
        (SNOMED, "731000119105", "3"),  # CKD stage 3 due to type 2 DM
        (ICD10CM, "N18.1", "1"),
        (ICD10CM, "N18.2", "2"),
        (ICD10CM, "N18.30", "3"),
        (ICD10CM, "N18.31", "3a"),
        (ICD10CM, "N18.32", "3b"),
        (ICD10CM, "N184", "4"),
        (ICD10CM, "N18.5", "5"),
        (ICD10CM, "N18.6", "5"),
        (ICD10CM, "N18.9", None),
        (ICD10CM, "E11.22", None),  # T2DM with diabetic CKD
        (ICD10CM, "I12.9", None),
        (ICD10, "N18.3", "3"),
    ],
)
def test_ckd_and_stage(fhir: Any, system: str, code: str, stage: str | None) -> None:
    facts = fhir.facts(fhir.cond(_code(fhir, system, code)))
    assert facts.ckd is not None and facts.ckd.present
    assert facts.ckd_stage == stage


def test_ckd_stage_from_the_latest_record(fhir: Any) -> None:
    facts = fhir.facts(
        fhir.cond(_code(fhir, SNOMED, "433144002"), recordedDate="2021-01-01"),
        fhir.cond(_code(fhir, SNOMED, "431857002"), recordedDate="2024-01-01"),
        fhir.cond(_code(fhir, SNOMED, "433146000"), recordedDate="2025-01-01", clinical="resolved"),
    )
    assert facts.ckd_stage == "4"


@pytest.mark.parametrize(
    ("system", "code", "attr"),
    [
        (SNOMED, "38341003", "hypertension"),
        (SNOMED, "59621000", "hypertension"),
        (ICD10CM, "I10", "hypertension"),
        (ICD10CM, "I15.0", "hypertension"),
        (ICD10CM, "O10.011", "hypertension"),
        (SNOMED, "22298006", "ascvd"),  # myocardial infarction
        (SNOMED, "399211009", "ascvd"),  # history of MI
        (SNOMED, "53741008", "ascvd"),  # coronary arteriosclerosis
        (SNOMED, "230690007", "ascvd"),  # stroke
        (SNOMED, "266257000", "ascvd"),  # TIA
        (SNOMED, "399957001", "ascvd"),  # peripheral arterial occlusive disease
        (ICD10CM, "I21.4", "ascvd"),
        (ICD10CM, "I25.10", "ascvd"),
        (ICD10CM, "I25.2", "ascvd"),
        (ICD10CM, "I63.9", "ascvd"),
        (ICD10CM, "G45.9", "ascvd"),
        (ICD10CM, "I70.211", "ascvd"),
        (ICD10CM, "I73.9", "ascvd"),
        (ICD10CM, "Z95.1", "ascvd"),
        (SNOMED, "84114007", "heart_failure"),
        (SNOMED, "703272007", "heart_failure"),  # HFrEF
        (ICD10CM, "I50.22", "heart_failure"),
        (ICD10CM, "I11.0", "heart_failure"),
        (SNOMED, "77386006", "pregnancy"),
        (ICD10CM, "Z33.1", "pregnancy"),
        (ICD10CM, "Z34.90", "pregnancy"),
        (ICD10CM, "O09.521", "pregnancy"),
    ],
)
def test_comorbidities(fhir: Any, system: str, code: str, attr: str) -> None:
    facts = fhir.facts(fhir.cond(_code(fhir, system, code), onsetDateTime="2025-03-01"))
    fact = getattr(facts, attr)
    assert fact is not None and fact.present, attr
    assert fact.code == code.upper().replace(".", "")


def test_hypertensive_heart_and_kidney_disease_gives_three_facts(fhir: Any) -> None:
    facts = fhir.facts(fhir.cond(_code(fhir, ICD10CM, "I13.0")))
    assert facts.hypertension and facts.ckd and facts.heart_failure


@pytest.mark.parametrize(
    ("system", "code"),
    [(SNOMED, "70995007"), (SNOMED, "4210003"), (ICD10CM, "I27.20"), (ICD10CM, "H40.053")],
)
def test_pulmonary_and_ocular_hypertension_are_not_hypertension(
    fhir: Any, system: str, code: str
) -> None:
    assert fhir.facts(fhir.cond(_code(fhir, system, code))).hypertension is None


def test_haemorrhagic_stroke_is_not_ascvd_by_text(fhir: Any) -> None:
    facts = fhir.facts(fhir.cond({"text": "Haemorrhagic stroke"}))
    assert facts.ascvd is None


def test_history_facts_count_when_resolved(fhir: Any) -> None:
    facts = fhir.facts(
        fhir.cond(_code(fhir, SNOMED, "22298006"), clinical="resolved"),
        fhir.cond(_code(fhir, SNOMED, "4855003"), clinical="resolved"),
        fhir.cond(_code(fhir, SNOMED, "312912001"), clinical="inactive"),
    )
    assert facts.ascvd is not None and facts.ascvd.present
    assert facts.prior_dr is not None and facts.prior_dr.present
    assert facts.prior_dme is not None and facts.prior_dme.present


@pytest.mark.parametrize(
    ("system", "code", "dr", "dme", "dtype"),
    [
        (SNOMED, "4855003", True, False, DiabetesType.UNSPECIFIED),
        (SNOMED, "312904009", True, False, DiabetesType.UNSPECIFIED),  # moderate NPDR
        (SNOMED, "59276001", True, False, DiabetesType.UNSPECIFIED),  # PDR
        (SNOMED, "1551000119108", True, False, DiabetesType.TYPE2),
        (SNOMED, "420789003", True, False, DiabetesType.TYPE1),
        (SNOMED, "312912001", False, True, DiabetesType.UNSPECIFIED),
        (SNOMED, "97331000119101", True, True, DiabetesType.TYPE2),
        (ICD10CM, "E11.319", True, False, DiabetesType.TYPE2),
        (ICD10CM, "E11.311", True, True, DiabetesType.TYPE2),
        (ICD10CM, "E11.3293", True, False, DiabetesType.TYPE2),  # mild NPDR w/o DME, bilateral
        (ICD10CM, "E113291", True, False, DiabetesType.TYPE2),
        (ICD10CM, "E11.3211", True, True, DiabetesType.TYPE2),  # mild NPDR with DME, right
        (ICD10CM, "E10.3553", True, False, DiabetesType.TYPE1),  # stable PDR
        (ICD10CM, "E10.351", True, True, DiabetesType.TYPE1),
        (ICD10CM, "E11.37X1", False, True, DiabetesType.TYPE2),  # DME resolved after treatment
        (ICD10CM, "E11.36", False, False, DiabetesType.TYPE2),  # diabetic cataract
        (ICD10, "E11.3", False, False, DiabetesType.TYPE2),  # WHO: ophthalmic complication
        (ICD10, "H36.0", True, False, DiabetesType.UNSPECIFIED),
    ],
)
def test_prior_dr_and_dme(
    fhir: Any, system: str, code: str, dr: bool, dme: bool, dtype: DiabetesType
) -> None:
    facts = fhir.facts(fhir.cond(_code(fhir, system, code)))
    assert (facts.prior_dr is not None) is dr
    assert (facts.prior_dme is not None) is dme
    assert facts.diabetes is not None and facts.diabetes.type == dtype


@pytest.mark.parametrize("code", ["390850007", "390853009", "390855002"])
def test_negative_eye_findings_are_not_dr(fhir: Any, code: str) -> None:
    facts = fhir.facts(fhir.cond(_code(fhir, SNOMED, code, "O/E - no right diabetic retinopathy")))
    assert facts.prior_dr is None and facts.prior_dme is None


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        (
            "Type 2 diabetes mellitus with diabetic chronic kidney disease",
            {"diabetes:type2", "ckd"},
        ),
        ("Diabetes mellitus type II, uncontrolled", {"diabetes:type2"}),
        ("Insulin dependent diabetes mellitus", {"diabetes:type1"}),
        ("Non-insulin dependent diabetes", {"diabetes:type2"}),
        ("2型糖尿病", {"diabetes:type2"}),
        ("1型糖尿病", {"diabetes:type1"}),
        ("糖尿病视网膜病变", {"diabetes", "dr"}),
        (
            "Proliferative diabetic retinopathy with macular edema, left eye",
            {"diabetes", "dr", "dme"},
        ),
        ("Diabetic retinopathy without macular edema", {"diabetes", "dr"}),
        ("CKD stage 3b", {"ckd:3b"}),
        ("Chronic kidney disease, stage G4", {"ckd:4"}),
        ("End stage renal disease on dialysis", {"ckd:5"}),
        ("慢性肾病3期", {"ckd:3"}),
        ("高血压", {"htn"}),
        ("Hypertension, essential", {"htn"}),
        ("Congestive heart failure", {"hf"}),
        ("History of myocardial infarction", {"ascvd"}),
        ("冠心病", {"ascvd"}),
        ("Currently pregnant, 20 weeks", {"pregnancy"}),
        ("Not pregnant", set()),
        ("Family history of hypertension", set()),
        ("Hypertensive retinopathy", {"htn"}),
    ],
)
def test_codes_not_in_the_tables_fall_back_to_the_display(
    fhir: Any, text: str, expect: set[str]
) -> None:
    facts = fhir.facts(
        fhir.cond({"coding": [{"system": "urn:oid:1.2.3.4", "code": "X1"}], "text": text})
    )
    got: set[str] = set()
    if facts.diabetes:
        t = facts.diabetes.type.value
        got.add("diabetes" if t == "unspecified" else f"diabetes:{t}")
    if facts.ckd:
        got.add(f"ckd:{facts.ckd_stage}" if facts.ckd_stage else "ckd")
    for attr, tag in (
        ("hypertension", "htn"),
        ("heart_failure", "hf"),
        ("ascvd", "ascvd"),
        ("prior_dr", "dr"),
        ("prior_dme", "dme"),
        ("pregnancy", "pregnancy"),
    ):
        if getattr(facts, attr):
            got.add(tag)
    assert got == expect
    if expect:
        assert any("read from its display text" in w for w in facts.warnings)


def test_known_codes_do_not_use_the_display(fhir: Any) -> None:
    # A coded essential hypertension whose (wrong) display says diabetes stays hypertension.
    facts = fhir.facts(fhir.cond(_code(fhir, SNOMED, "59621000", "Type 2 diabetes")))
    assert facts.hypertension is not None and facts.diabetes is None


def test_conditions_without_code_or_with_wrong_types(fhir: Any) -> None:
    no_code = fhir.cond({"text": "x"}, rid="nocode")
    del no_code["code"]
    facts = fhir.facts(
        no_code,
        fhir.cond("E11.9", rid="str"),  # code is a string, not a CodeableConcept
        fhir.cond({"coding": "E11.9"}, rid="codingstr"),
        fhir.cond({"coding": [{"system": ICD10CM, "code": 119}]}, rid="num"),
        fhir.cond(_code(fhir, ICD10CM, "I10"), onsetDateTime=20100101, recordedDate=["x"]),
    )
    assert "Condition/nocode: no code; ignored" in facts.warnings
    assert facts.hypertension is not None and facts.hypertension.onset is None
    assert facts.diabetes is None


def test_pregnancy_is_current_only_within_300_days(fhir: Any) -> None:
    recent = fhir.facts(fhir.cond(_code(fhir, SNOMED, "77386006"), onsetDateTime="2025-02-01"))
    assert recent.pregnancy is not None and recent.pregnancy.present
    old = fhir.facts(fhir.cond(_code(fhir, SNOMED, "77386006"), onsetDateTime="2023-01-01"))
    assert old.pregnancy is not None and not old.pregnancy.present
    assert any("over 300 days" in w for w in old.warnings)
    over = fhir.facts(
        fhir.cond(
            _code(fhir, SNOMED, "77386006"),
            clinical="resolved",
            onsetDateTime="2024-01-01",
            abatementDateTime="2024-09-01",
        )
    )
    assert over.pregnancy is not None and not over.pregnancy.present


def test_resolved_gestational_diabetes_is_not_current_diabetes(fhir: Any) -> None:
    facts = fhir.facts(fhir.cond(_code(fhir, SNOMED, "11687002"), clinical="resolved"))
    assert facts.diabetes is not None and not facts.diabetes.present
    assert facts.diabetes.type == DiabetesType.GESTATIONAL
    assert facts.diabetes.duration_years is None
