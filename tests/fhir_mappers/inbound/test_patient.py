"""Patient: age as of a reference date (partial birth dates), administrative sex."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from fhir_mappers.inbound import clinical_facts_from_fhir
from models.clinical_facts import Sex


@pytest.mark.parametrize(
    ("birth", "as_of", "age", "warned"),
    [
        ("1960-06-30", date(2025, 6, 30), 65, False),  # birthday today
        ("1960-07-01", date(2025, 6, 30), 64, False),  # birthday tomorrow
        ("2000-02-29", date(2025, 2, 28), 24, False),
        ("1960", date(2025, 6, 30), 65, True),  # year only: read as 1 January
        ("1960-09", date(2025, 6, 30), 64, True),  # year-month: read as the 1st
        ("1960-05-01T00:00:00Z", date(2025, 6, 30), 65, False),  # dateTime where a date is due
    ],
)
def test_age_as_of(fhir: Any, birth: str, as_of: date, age: int, warned: bool) -> None:
    facts = clinical_facts_from_fhir(fhir.patient(birth=birth), as_of=as_of)
    assert facts.age_years == age
    assert facts.as_of == as_of
    assert any("precision" in w for w in facts.warnings) is warned


@pytest.mark.parametrize("birth", ["15/01/1960", "1960-13-01", "yesterday", 1960, ["1960"]])
def test_unreadable_birth_date_gives_no_age(fhir: Any, birth: Any) -> None:
    patient = fhir.patient() | {"birthDate": birth}
    facts = clinical_facts_from_fhir(patient, as_of=fhir.AS_OF)
    assert facts.age_years is None
    assert any("birthDate is not a FHIR date" in w for w in facts.warnings)


def test_future_birth_date_gives_no_age(fhir: Any) -> None:
    facts = clinical_facts_from_fhir(fhir.patient(birth="2030-01-01"), as_of=fhir.AS_OF)
    assert facts.age_years is None
    assert any("impossible age" in w for w in facts.warnings)


def test_missing_birth_date(fhir: Any) -> None:
    facts = clinical_facts_from_fhir(fhir.patient(birth=None), as_of=fhir.AS_OF)
    assert facts.age_years is None


@pytest.mark.parametrize(
    ("gender", "sex"),
    [
        ("male", Sex.MALE),
        ("female", Sex.FEMALE),
        ("other", Sex.OTHER),
        ("unknown", Sex.UNKNOWN),
        ("Male", Sex.MALE),
        ("F", Sex.FEMALE),
        (None, Sex.UNKNOWN),
        ("x", Sex.UNKNOWN),
        (1, Sex.UNKNOWN),
    ],
)
def test_sex(fhir: Any, gender: Any, sex: Sex) -> None:
    patient = fhir.patient()
    patient["gender"] = gender
    facts = clinical_facts_from_fhir(patient, as_of=fhir.AS_OF)
    assert facts.sex == sex


def test_default_as_of_is_today(fhir: Any) -> None:
    facts = clinical_facts_from_fhir(fhir.patient())
    assert facts.as_of == date.today()
