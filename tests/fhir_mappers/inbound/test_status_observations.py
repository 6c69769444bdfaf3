"""Smoking status and pregnancy status observations (coded answers, text answers, latest
wins) and their Condition fallbacks."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_mappers import codes
from models.clinical_facts import SmokingStatus

SMOKING = "72166-2"


def _answer(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


@pytest.mark.parametrize(("answer", "status"), sorted(codes.SMOKING_ANSWERS.items()))
def test_every_smoking_answer_code(fhir: Any, answer: str, status: str) -> None:
    system = fhir.LOINC if answer.startswith("LA") else fhir.SNOMED
    obs = fhir.obs(SMOKING, valueCodeableConcept=_answer(system, answer), rid="s")
    smoking = fhir.facts(obs).smoking
    assert smoking is not None and smoking.status == SmokingStatus(status)
    assert (smoking.code, smoking.source) == (answer, "Observation/s")


def test_history_of_tobacco_use_code_is_read(fhir: Any) -> None:
    obs = fhir.obs("11367-0", valueCodeableConcept=_answer(fhir.SNOMED, "8517006"))
    smoking = fhir.facts(obs).smoking
    assert smoking is not None and smoking.status == SmokingStatus.FORMER


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Never smoker", SmokingStatus.NEVER),
        ("Former smoker", SmokingStatus.FORMER),
        ("Quit 2015", SmokingStatus.FORMER),
        ("Current every day smoker", SmokingStatus.CURRENT),
        ("Smokes 10/day", SmokingStatus.CURRENT),
        ("Unknown if ever smoked", SmokingStatus.UNKNOWN),
        ("已戒烟", SmokingStatus.FORMER),
    ],
)
def test_smoking_from_text(fhir: Any, text: str, status: SmokingStatus) -> None:
    coded_locally = fhir.obs(SMOKING, valueCodeableConcept={"text": text})
    assert (s := fhir.facts(coded_locally).smoking) is not None and s.status == status
    as_string = fhir.obs(SMOKING, valueString=text)
    assert (s := fhir.facts(as_string).smoking) is not None and s.status == status


def test_unrecognised_smoking_answer_is_ignored_with_a_warning(fhir: Any) -> None:
    facts = fhir.facts(fhir.obs(SMOKING, valueCodeableConcept={"text": "see notes"}, rid="x"))
    assert facts.smoking is None
    assert "Observation/x: smoking status answer not recognised; ignored" in facts.warnings


def test_latest_smoking_status_wins_and_errors_are_ignored(fhir: Any) -> None:
    facts = fhir.facts(
        fhir.obs(SMOKING, when="2020-01-01", valueCodeableConcept=_answer(fhir.LOINC, "LA18976-3")),
        fhir.obs(SMOKING, when="2024-01-01", valueCodeableConcept=_answer(fhir.LOINC, "LA15920-4")),
        fhir.obs(
            SMOKING,
            when="2025-01-01",
            status="entered-in-error",
            valueCodeableConcept=_answer(fhir.LOINC, "LA18976-3"),
        ),
    )
    assert facts.smoking is not None and facts.smoking.status == SmokingStatus.FORMER


def test_smoking_from_conditions_only_without_an_observation(fhir: Any) -> None:
    condition = fhir.cond(fhir.concept(fhir.ICD10CM, "F17.210"), rid="f17")
    facts = fhir.facts(condition)
    assert facts.smoking is not None and facts.smoking.status == SmokingStatus.CURRENT
    assert facts.smoking.source == "Condition/f17"
    with_obs = fhir.facts(
        condition, fhir.obs(SMOKING, valueCodeableConcept=_answer(fhir.LOINC, "LA18978-9"))
    )
    assert with_obs.smoking is not None and with_obs.smoking.status == SmokingStatus.NEVER
    former = fhir.facts(fhir.cond(fhir.concept(fhir.ICD10CM, "Z87.891")))
    assert former.smoking is not None and former.smoking.status == SmokingStatus.FORMER


@pytest.mark.parametrize(
    ("system", "code", "present"),
    [
        (codes.LOINC, "LA15173-0", True),
        (codes.LOINC, "LA26683-5", False),
        (codes.SNOMED, "77386006", True),
        (codes.SNOMED, "60001007", False),
    ],
)
def test_pregnancy_status_observation(fhir: Any, system: str, code: str, present: bool) -> None:
    obs = fhir.obs("82810-3", when="2025-06-01", valueCodeableConcept=_answer(system, code))
    pregnancy = fhir.facts(obs).pregnancy
    assert pregnancy is not None and pregnancy.present is present


def test_unknown_pregnancy_status_says_nothing(fhir: Any) -> None:
    obs = fhir.obs("82810-3", valueCodeableConcept=_answer(codes.LOINC, "LA4489-6"))
    assert fhir.facts(obs).pregnancy is None


def test_latest_of_condition_and_observation_decides_pregnancy(fhir: Any) -> None:
    pregnant = fhir.cond(fhir.concept(fhir.SNOMED, "77386006"), onsetDateTime="2025-02-01")
    not_now = fhir.obs(
        "82810-3", when="2025-06-01", valueCodeableConcept=_answer(codes.LOINC, "LA26683-5")
    )
    facts = fhir.facts(pregnant, not_now)
    assert facts.pregnancy is not None and not facts.pregnancy.present
    earlier_obs = fhir.obs(
        "82810-3", when="2025-01-01", valueCodeableConcept=_answer(codes.LOINC, "LA26683-5")
    )
    facts = fhir.facts(pregnant, earlier_obs)
    assert facts.pregnancy is not None and facts.pregnancy.present


def test_old_pregnant_observation_is_not_current(fhir: Any) -> None:
    obs = fhir.obs(
        "82810-3", when="2023-01-01", valueCodeableConcept=_answer(codes.LOINC, "LA15173-0")
    )
    facts = fhir.facts(obs)
    assert facts.pregnancy is not None and not facts.pregnancy.present
