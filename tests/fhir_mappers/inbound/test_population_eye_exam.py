"""Population (BMI cut-offs), the last retinal examination and same-day conflicting results,
from hand-written FHIR JSON."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_mappers.inbound import advice_codes as ac
from models.clinical_facts import Population

JSON = dict[str, Any]
US_CORE_RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
CDC_RACE = "urn:oid:2.16.840.1.113883.6.238"
CPT = "http://www.ama-assn.org/go/cpt"


def _race(*subs: tuple[str, str]) -> JSON:
    return {
        "url": US_CORE_RACE,
        "extension": [
            {"url": url, "valueCoding": {"system": CDC_RACE, "code": code}} for url, code in subs
        ]
        + [{"url": "text", "valueString": "Asian"}],
    }


def _language(code: str, preferred: bool | None = True) -> JSON:
    comm: JSON = {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": code}]}}
    if preferred is not None:
        comm["preferred"] = preferred
    return comm


# --- population -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "population", "basis"),
    [
        ({"address": [{"city": "上海", "country": "CN"}]}, Population.CHINESE, "address"),
        ({"address": [{"country": "中国"}]}, Population.CHINESE, "address"),
        ({"extension": [_race(("ombCategory", "2028-9"))]}, Population.ASIAN_AMERICAN, "race"),
        ({"extension": [_race(("detailed", "2034-7"))]}, Population.ASIAN_AMERICAN, "race"),
        ({"communication": [_language("zh-CN")]}, Population.CHINESE, "language"),
        ({"communication": [_language("zh", preferred=None)]}, Population.CHINESE, "language"),
    ],
)
def test_population_from_the_patient(
    fhir: Any, extra: JSON, population: Population, basis: str
) -> None:
    facts = fhir.clinical_facts({**fhir.patient(), **extra})
    assert facts.population is not None
    assert facts.population.population == population
    assert basis in facts.population.basis.lower()
    assert facts.population.source == "Patient/p1"


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"extension": [_race(("ombCategory", "2106-3"))]},  # White
        {"communication": [_language("zh-TW")]},
        {"communication": [_language("zh-CN")], "address": [{"country": "US"}]},
        {"address": [{"country": "CN", "use": "old"}]},
        {"address": [{"country": "CN", "period": {"end": "2020-01-01"}}]},
        {"communication": [_language("en", preferred=True), _language("zh-CN", preferred=False)]},
    ],
)
def test_population_is_not_guessed(fhir: Any, extra: JSON) -> None:
    assert fhir.clinical_facts({**fhir.patient(), **extra}).population is None


def test_address_in_china_outranks_us_core_race(fhir: Any) -> None:
    patient = {
        **fhir.patient(),
        "address": [{"country": "CHN"}],
        "extension": [_race(("ombCategory", "2028-9"))],
    }
    facts = fhir.clinical_facts(patient)
    assert facts.population is not None and facts.population.population == Population.CHINESE


def test_population_inferred_from_language_is_warned(fhir: Any) -> None:
    facts = fhir.clinical_facts({**fhir.patient(), "communication": [_language("zh")]})
    assert any("Patient/p1" in w and "language" in w for w in facts.warnings)


# --- last eye examination ----------------------------------------------------------------------


def _procedure(fhir: Any, concept: JSON, *, status: str = "completed", **extra: Any) -> JSON:
    return {
        "resourceType": "Procedure",
        "id": extra.pop("rid", fhir.next_id("pr")),
        "status": status,
        "code": concept,
        "subject": fhir.subject(),
        **extra,
    }


@pytest.mark.parametrize(
    ("concept", "retinopathy"),
    [
        ({"coding": [{"system": "http://snomed.info/sct", "code": "20067007"}]}, None),
        ({"coding": [{"system": "http://snomed.info/sct", "code": "722161008"}]}, None),
        ({"coding": [{"system": CPT, "code": "92250"}]}, None),
        ({"coding": [{"system": CPT, "code": "2022F"}]}, True),
        ({"coding": [{"system": CPT, "code": "2023F"}]}, False),
    ],
)
def test_eye_exam_procedures(fhir: Any, concept: JSON, retinopathy: bool | None) -> None:
    proc = _procedure(fhir, concept, performedDateTime="2024-09-12T10:00:00Z", rid="ex")
    exam = fhir.facts(proc).last_eye_exam
    assert exam is not None
    assert (exam.kind, exam.source, str(exam.date)) == ("Procedure", "Procedure/ex", "2024-09-12")
    assert exam.retinopathy is retinopathy


@pytest.mark.parametrize(
    ("system", "code"),
    [("http://snomed.info/sct", c) for c in ac.SNOMED_EYE_EXAM_PROCEDURES]
    + [(CPT, c) for c in ac.CPT_EYE_EXAM],
)
def test_every_code_of_the_shared_retinal_exam_list_is_an_exam(
    fhir: Any, system: str, code: str
) -> None:
    """The list the CDS service's "screening due" also uses (plugin.cds.codes)."""
    concept = {"coding": [{"system": system, "code": code}]}
    facts = fhir.facts(_procedure(fhir, concept, performedDateTime="2025-01-02", rid="x"))
    assert facts.last_eye_exam is not None and facts.last_eye_exam.code == code
    assert not any("display text" in w for w in facts.warnings)


def test_eye_exam_procedure_by_text_is_warned(fhir: Any) -> None:
    proc = _procedure(fhir, {"text": "眼底照相"}, performedPeriod={"end": "2024-01-03"}, rid="t")
    facts = fhir.facts(proc)
    assert facts.last_eye_exam is not None and str(facts.last_eye_exam.date) == "2024-01-03"
    assert any("Procedure/t" in w and "eye exam" in w for w in facts.warnings)


@pytest.mark.parametrize(
    "proc_extra",
    [
        {"status": "not-done", "performedDateTime": "2024-09-12"},
        {"status": "entered-in-error", "performedDateTime": "2024-09-12"},
        {"status": "completed"},  # no date: it cannot say when the next one is due
    ],
)
def test_eye_exam_procedures_that_do_not_count(fhir: Any, proc_extra: JSON) -> None:
    concept = {"coding": [{"system": "http://snomed.info/sct", "code": "20067007"}]}
    status = proc_extra.pop("status")
    assert fhir.facts(_procedure(fhir, concept, status=status, **proc_extra)).last_eye_exam is None


def test_dr_severity_observation_dates_an_exam_and_gives_its_finding(fhir: Any) -> None:
    obs = fhir.obs(
        "71491-5",
        when="2025-01-20",
        rid="dr",
        valueCodeableConcept={"coding": [{"system": fhir.LOINC, "code": "LA18644-7"}]},
    )
    exam = fhir.facts(obs).last_eye_exam
    assert exam is not None and exam.kind == "Observation" and exam.retinopathy is True
    normal = fhir.obs(
        "71490-7",
        when="2025-01-20",
        valueCodeableConcept={"coding": [{"system": fhir.LOINC, "code": "LA18643-9"}]},
    )
    exam = fhir.facts(normal).last_eye_exam
    assert exam is not None and exam.retinopathy is False


def test_retinal_screening_report_dates_an_exam(fhir: Any) -> None:
    report = {
        "resourceType": "DiagnosticReport",
        "id": "rep",
        "status": "preliminary",
        "code": {"coding": [{"system": fhir.LOINC, "code": "103592-2"}]},
        "subject": fhir.subject(),
        "effectiveDateTime": "2025-02-02T08:00:00+08:00",
    }
    exam = fhir.facts(report).last_eye_exam
    assert exam is not None and exam.kind == "DiagnosticReport" and str(exam.date) == "2025-02-02"
    cancelled = {**report, "status": "cancelled"}
    assert fhir.facts(cancelled).last_eye_exam is None


def test_the_latest_exam_wins_and_future_dates_are_ignored(fhir: Any) -> None:
    snomed = {"coding": [{"system": "http://snomed.info/sct", "code": "20067007"}]}
    older = _procedure(fhir, snomed, performedDateTime="2023-05-01", rid="old")
    newer = _procedure(fhir, snomed, performedDateTime="2024-05-01", rid="new")
    future = _procedure(fhir, snomed, performedDateTime="2026-05-01", rid="future")
    facts = fhir.facts(older, future, newer)
    assert facts.last_eye_exam is not None and facts.last_eye_exam.source == "Procedure/new"
    assert any("Procedure/future" in w and "after as_of" in w for w in facts.warnings)


def test_fundus_imaging_study_dates_an_exam(fhir: Any) -> None:
    study = {
        "resourceType": "ImagingStudy",
        "id": "img",
        "status": "available",
        "subject": fhir.subject(),
        "started": "2024-12-01T09:00:00Z",
        "series": [{"uid": "1.2.3", "modality": {"code": "OP"}, "instance": [{"uid": "1.2.3.4"}]}],
    }
    exam = fhir.facts(study).last_eye_exam
    assert exam is not None and exam.kind == "ImagingStudy" and exam.source == "ImagingStudy/img"


# --- conflicting results ------------------------------------------------------------------------


def test_two_hba1c_units_disagreeing_on_the_same_day(fhir: Any) -> None:
    pct = fhir.obs("4548-4", 7.2, "%", "%", when="2025-05-01T08:00:00Z", rid="pct")
    ifcc = fhir.obs("59261-8", 80, "mmol/mol", "mmol/mol", when="2025-05-01T09:00:00Z", rid="i")
    facts = fhir.facts(pct, ifcc)
    assert facts.conflicting == ("hba1c",)
    warning = next(w for w in facts.warnings if "disagrees" in w)
    assert "Observation/pct" in warning and "7.2" not in warning and "80" not in warning


@pytest.mark.parametrize(
    ("second", "when"),
    [
        (53, "2025-05-01T09:00:00Z"),  # 53 mmol/mol = 7.0 %: within assay noise
        (80, "2025-03-01T09:00:00Z"),  # an older result: no conflict, just history
    ],
)
def test_hba1c_results_that_do_not_conflict(fhir: Any, second: float, when: str) -> None:
    pct = fhir.obs("4548-4", 7.2, "%", "%", when="2025-05-01T08:00:00Z")
    other = fhir.obs("59261-8", second, "mmol/mol", "mmol/mol", when=when)
    assert fhir.facts(pct, other).conflicting == ()


def test_blood_pressure_readings_of_one_day_are_not_a_conflict(fhir: Any) -> None:
    a = fhir.obs("8480-6", 120, "mmHg", "mm[Hg]", when="2025-05-01T08:00:00Z")
    b = fhir.obs("8480-6", 165, "mmHg", "mm[Hg]", when="2025-05-01T18:00:00Z")
    assert fhir.facts(a, b).conflicting == ()
