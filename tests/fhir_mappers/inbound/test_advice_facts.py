"""Frailty, hypoglycaemia, limited life expectancy and alcohol from hand-written FHIR JSON,
the way EHRs record them (Conditions with SNOMED / ICD-10 codes, scored Observations)."""

from __future__ import annotations

from typing import Any

import pytest

from models.clinical_facts import AlcoholUse, FrailtySeverity

JSON = dict[str, Any]


def _snomed(fhir: Any, code: str, display: str | None = None) -> JSON:
    return fhir.concept(fhir.SNOMED, code, display)


def _icd(fhir: Any, code: str, display: str | None = None) -> JSON:
    return fhir.concept(fhir.ICD10CM, code, display)


# --- frailty ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("system", "code", "severity"),
    [
        ("snomed", "248279007", None),  # Frailty
        ("snomed", "404904002", None),  # Frail elderly
        ("snomed", "925791000000100", FrailtySeverity.MILD),
        ("snomed", "925831000000107", FrailtySeverity.MODERATE),
        ("snomed", "925861000000102", FrailtySeverity.SEVERE),
        ("icd", "R54", None),  # Age-related physical debility (frailty)
    ],
)
def test_frailty_conditions(
    fhir: Any, system: str, code: str, severity: FrailtySeverity | None
) -> None:
    concept = _snomed(fhir, code) if system == "snomed" else _icd(fhir, code)
    facts = fhir.facts(fhir.cond(concept, recordedDate="2025-02-01", rid="frail"))
    assert facts.frailty is not None
    assert facts.frailty.present and facts.frailty.severity == severity
    assert facts.frailty.source == "Condition/frail" and str(facts.frailty.date) == "2025-02-01"


def test_resolved_frailty_says_not_frail(fhir: Any) -> None:
    facts = fhir.facts(fhir.cond(_snomed(fhir, "248279007"), clinical="resolved"))
    assert facts.frailty is not None and not facts.frailty.present


def _cfs(fhir: Any, value: JSON, *, when: str = "2025-05-01", **extra: Any) -> JSON:
    code = extra.pop("code", _snomed(fhir, "763264000", "CSHA Clinical Frailty Scale score"))
    return fhir.obs(code, when=when, **value, **extra)


@pytest.mark.parametrize(
    ("value", "present", "severity", "score"),
    [
        ({"valueInteger": 3}, False, None, 3),
        ({"valueInteger": 5}, True, FrailtySeverity.MILD, 5),
        ({"valueQuantity": {"value": 6, "unit": "{score}"}}, True, FrailtySeverity.MODERATE, 6),
        (
            {"valueCodeableConcept": {"coding": [{"code": "7", "display": "Severely Frail"}]}},
            True,
            FrailtySeverity.SEVERE,
            7,
        ),
        ({"valueString": "CFS 8"}, True, FrailtySeverity.SEVERE, 8),
    ],
)
def test_clinical_frailty_scale(
    fhir: Any, value: JSON, present: bool, severity: FrailtySeverity | None, score: int
) -> None:
    facts = fhir.facts(_cfs(fhir, value, rid="cfs"))
    assert facts.frailty is not None
    assert (facts.frailty.present, facts.frailty.severity, facts.frailty.score) == (
        present,
        severity,
        score,
    )
    assert facts.frailty.source == "Observation/cfs"


def test_cfs_as_frailty_index_with_the_cfs_method(fhir: Any) -> None:
    gecco = _cfs(
        fhir,
        {"valueInteger": 6},
        code=_snomed(fhir, "713636003"),
        method=_snomed(fhir, "445414007"),
    )
    assert fhir.facts(gecco).frailty is not None
    index_only = _cfs(fhir, {"valueInteger": 6}, code=_snomed(fhir, "713636003"))
    assert fhir.facts(index_only).frailty is None


def test_cfs_out_of_range_is_dropped_with_a_warning(fhir: Any) -> None:
    facts = fhir.facts(_cfs(fhir, {"valueInteger": 12}, rid="bad"))
    assert facts.frailty is None
    assert any("Observation/bad" in w and "1-9" in w for w in facts.warnings)


def test_latest_frailty_record_wins(fhir: Any) -> None:
    old = fhir.cond(_snomed(fhir, "248279007"), recordedDate="2023-01-01")
    new = _cfs(fhir, {"valueInteger": 3}, when="2025-04-01", rid="cfs3")
    facts = fhir.facts(old, new)
    assert facts.frailty is not None and facts.frailty.source == "Observation/cfs3"
    assert not facts.frailty.present


def test_frailty_from_display_text_is_warned(fhir: Any) -> None:
    facts = fhir.facts(fhir.cond({"text": "Frailty syndrome"}, rid="t"))
    assert facts.frailty is not None and facts.frailty.present
    assert any("Condition/t" in w and "display text" in w for w in facts.warnings)


# --- hypoglycaemia ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("concept_args", "coma"),
    [
        (("icd", "E11.649"), False),  # T2DM with hypoglycaemia without coma
        (("icd", "E10.641"), True),  # T1DM with hypoglycaemia with coma
        (("icd", "E16.2"), False),
        (("icd", "E16.0"), False),
        (("icd", "E15"), True),
        (("snomed", "302866003"), False),
        (("snomed", "267384006"), True),
    ],
)
def test_hypoglycaemia_codes(fhir: Any, concept_args: tuple[str, str], coma: bool) -> None:
    system, code = concept_args
    concept = _snomed(fhir, code) if system == "snomed" else _icd(fhir, code)
    facts = fhir.facts(fhir.cond(concept, recordedDate="2024-11-02", rid="h"))
    assert facts.hypoglycaemia is not None
    assert facts.hypoglycaemia.coma is coma and facts.hypoglycaemia.source == "Condition/h"


def test_e11_649_is_also_type2_diabetes(fhir: Any) -> None:
    facts = fhir.facts(fhir.cond(_icd(fhir, "E11.649")))
    assert facts.diabetes is not None and facts.diabetes.type.value == "type2"


def test_resolved_hypoglycaemia_is_still_history_and_counted(fhir: Any) -> None:
    facts = fhir.facts(
        fhir.cond(_icd(fhir, "E16.2"), clinical="resolved", recordedDate="2022-03-01"),
        fhir.cond(_snomed(fhir, "302866003"), recordedDate="2024-08-01", rid="latest"),
    )
    assert facts.hypoglycaemia is not None
    assert facts.hypoglycaemia.count == 2 and facts.hypoglycaemia.source == "Condition/latest"


@pytest.mark.parametrize(
    ("concept", "hypo"),
    [
        ({"text": "低血糖"}, True),
        ({"text": "Risk of hypoglycaemia"}, False),
        ({"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E16.4"}]}, False),
    ],
)
def test_hypoglycaemia_text_and_look_alikes(fhir: Any, concept: JSON, hypo: bool) -> None:
    facts = fhir.facts(fhir.cond(concept))
    assert (facts.hypoglycaemia is not None) is hypo


def test_refuted_hypoglycaemia_is_ignored(fhir: Any) -> None:
    facts = fhir.facts(fhir.cond(_icd(fhir, "E16.2"), verification="refuted"))
    assert facts.hypoglycaemia is None


# --- limited life expectancy ----------------------------------------------------------------


def test_palliative_encounter_diagnosis_recent_counts(fhir: Any) -> None:
    z515 = fhir.cond(
        fhir.concept(fhir.ICD10, "Z51.5", "Encounter for palliative care"),
        clinical=None,
        recordedDate="2025-03-10",
        rid="pal",
    )
    facts = fhir.facts(z515)
    assert facts.limited_life_expectancy is not None
    assert facts.limited_life_expectancy.source == "Condition/pal"


def test_old_undated_status_palliative_record_is_not_used(fhir: Any) -> None:
    old = fhir.cond(
        fhir.concept(fhir.ICD10, "Z51.5"), clinical=None, recordedDate="2022-01-10", rid="old"
    )
    facts = fhir.facts(old)
    assert facts.limited_life_expectancy is None
    assert any("Condition/old" in w and "over a year ago" in w for w in facts.warnings)


def test_active_terminal_illness_counts_whatever_its_age(fhir: Any) -> None:
    facts = fhir.facts(fhir.cond(_snomed(fhir, "300936002"), recordedDate="2021-01-10"))
    assert facts.limited_life_expectancy is not None


def _procedure(fhir: Any, concept: JSON, status: str, **extra: Any) -> JSON:
    return {
        "resourceType": "Procedure",
        "id": extra.pop("rid", fhir.next_id("pr")),
        "status": status,
        "code": concept,
        "subject": fhir.subject(),
        **extra,
    }


def test_hospice_procedure_in_progress_counts(fhir: Any) -> None:
    hospice = _procedure(
        fhir,
        _snomed(fhir, "385763009", "Hospice care"),
        "in-progress",
        performedPeriod={"start": "2025-06-01"},
        rid="hosp",
    )
    facts = fhir.facts(hospice)
    assert facts.limited_life_expectancy is not None
    assert facts.limited_life_expectancy.source == "Procedure/hosp"


def test_palliative_care_years_ago_is_not_used(fhir: Any) -> None:
    old = _procedure(fhir, _snomed(fhir, "103735009"), "completed", performedDateTime="2020-05-01")
    assert fhir.facts(old).limited_life_expectancy is None


def test_cfs_9_terminally_ill_marks_limited_life_expectancy(fhir: Any) -> None:
    facts = fhir.facts(_cfs(fhir, {"valueInteger": 9}, when="2025-06-01"))
    assert facts.limited_life_expectancy is not None
    assert facts.frailty is not None and facts.frailty.severity == FrailtySeverity.SEVERE


# --- alcohol ----------------------------------------------------------------------------------


def _drinks(fhir: Any, n: float, **kw: Any) -> JSON:
    return fhir.obs("74013-4", n, "drinks/day", "{drinks}/d", **kw)


@pytest.mark.parametrize(
    ("gender", "drinks", "use"),
    [
        ("male", 0, AlcoholUse.NONE),
        ("male", 2, AlcoholUse.MODERATE),
        ("male", 3, AlcoholUse.HEAVY),
        ("female", 1, AlcoholUse.MODERATE),
        ("female", 1.5, AlcoholUse.HEAVY),
    ],
)
def test_drinks_per_day_against_the_ada_limit(
    fhir: Any, gender: str, drinks: float, use: AlcoholUse
) -> None:
    facts = fhir.clinical_facts(fhir.patient(gender=gender), _drinks(fhir, drinks))
    assert facts.alcohol is not None
    assert facts.alcohol.use == use and facts.alcohol.drinks_per_day == drinks


@pytest.mark.parametrize(
    ("gender", "score", "use"),
    [
        ("male", 0, AlcoholUse.NONE),
        ("male", 3, AlcoholUse.MODERATE),
        ("male", 4, AlcoholUse.HEAVY),
        ("female", 3, AlcoholUse.HEAVY),
        ("female", 2, AlcoholUse.MODERATE),
    ],
)
def test_audit_c_screen_cut_offs(fhir: Any, gender: str, score: int, use: AlcoholUse) -> None:
    obs = fhir.obs("75626-2", valueInteger=score)
    facts = fhir.clinical_facts(fhir.patient(gender=gender), obs)
    assert facts.alcohol is not None and facts.alcohol.use == use
    assert facts.alcohol.audit_c == score


def test_audit_c_panel_component(fhir: Any) -> None:
    panel = fhir.obs(
        "72109-2",
        components=[
            {
                "code": {"coding": [{"system": fhir.LOINC, "code": "75626-2"}]},
                "valueQuantity": {"value": 6, "unit": "{score}"},
            }
        ],
    )
    facts = fhir.facts(panel)
    assert facts.alcohol is not None and facts.alcohol.use == AlcoholUse.HEAVY


@pytest.mark.parametrize(
    ("answer", "use"),
    [
        ("Never drinker", AlcoholUse.NONE),
        ("Social drinker", AlcoholUse.MODERATE),
        ("Heavy drinker", AlcoholUse.HEAVY),
        ("不饮酒", AlcoholUse.NONE),
    ],
)
def test_alcohol_history_answer_text(fhir: Any, answer: str, use: AlcoholUse) -> None:
    obs = fhir.obs("11331-6", valueCodeableConcept={"text": answer}, rid="ah")
    facts = fhir.facts(obs)
    assert facts.alcohol is not None and facts.alcohol.use == use
    assert any("Observation/ah" in w and "answer text" in w for w in facts.warnings)


def test_alcohol_dependence_condition_unless_in_remission(fhir: Any) -> None:
    dependent = fhir.facts(fhir.cond(_icd(fhir, "F10.20", "Alcohol dependence")))
    assert dependent.alcohol is not None and dependent.alcohol.use == AlcoholUse.HEAVY
    assert fhir.facts(fhir.cond(_icd(fhir, "F10.21"))).alcohol is None


def test_alcohol_observation_outranks_a_condition(fhir: Any) -> None:
    facts = fhir.clinical_facts(
        fhir.patient(gender="male"),
        fhir.cond(_icd(fhir, "F10.20")),
        _drinks(fhir, 0, rid="none"),
    )
    assert facts.alcohol is not None and facts.alcohol.use == AlcoholUse.NONE


def test_implausible_drinks_value_is_dropped(fhir: Any) -> None:
    facts = fhir.facts(_drinks(fhir, 400, rid="x"))
    assert facts.alcohol is None
    assert any("Observation/x" in w and "implausible" in w for w in facts.warnings)
