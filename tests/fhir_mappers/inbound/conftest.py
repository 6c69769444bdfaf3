"""Hand-written FHIR JSON for the inbound mapper tests, built by small helpers so each test
shows only what it is about. The `fhir` fixture hands the helpers to the tests."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import pytest

from fhir_mappers.inbound import clinical_facts_from_fhir
from models.clinical_facts import ClinicalFacts

JSON = dict[str, Any]
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
_ids = itertools.count(1)


class Fhir:
    AS_OF = date(2025, 6, 30)
    LOINC, SNOMED, UCUM, ICD10CM, ICD10, RXNORM, ATC = (
        LOINC,
        SNOMED,
        UCUM,
        ICD10CM,
        ICD10,
        RXNORM,
        ATC,
    )

    @staticmethod
    def next_id(prefix: str) -> str:
        return f"{prefix}{next(_ids)}"

    @staticmethod
    def patient(
        pid: str = "p1", gender: str | None = "female", birth: str | None = "1960-01-15"
    ) -> JSON:
        p: JSON = {"resourceType": "Patient", "id": pid}
        if gender is not None:
            p["gender"] = gender
        if birth is not None:
            p["birthDate"] = birth
        return p

    @staticmethod
    def subject(pid: str = "p1") -> JSON:
        return {"reference": f"Patient/{pid}"}

    @staticmethod
    def concept(
        system: str, code: str, display: str | None = None, text: str | None = None
    ) -> JSON:
        c: JSON = {"system": system, "code": code}
        if display:
            c["display"] = display
        out: JSON = {"coding": [c]}
        if text:
            out["text"] = text
        return out

    @staticmethod
    def obs(
        code: str | JSON,
        value: float | None = None,
        unit: str | None = None,
        ucum: str | None = None,
        *,
        when: str | None = "2025-01-10",
        status: str | None = "final",
        rid: str | None = None,
        value_string: str | None = None,
        components: list[JSON] | None = None,
        **extra: Any,
    ) -> JSON:
        """An Observation; `code` a LOINC code or a whole CodeableConcept; `ucum` given:
        valueQuantity with system + code, else `unit` text only."""
        r: JSON = {
            "resourceType": "Observation",
            "id": rid or Fhir.next_id("o"),
            "code": code
            if isinstance(code, dict)
            else {"coding": [{"system": LOINC, "code": code}]},
            "subject": Fhir.subject(),
        }
        if status is not None:
            r["status"] = status
        if when is not None:
            r["effectiveDateTime"] = when
        if value is not None:
            q: JSON = {"value": value}
            if unit is not None:
                q["unit"] = unit
            if ucum is not None:
                q |= {"system": UCUM, "code": ucum}
            r["valueQuantity"] = q
        if value_string is not None:
            r["valueString"] = value_string
        if components is not None:
            r["component"] = components
        r.update(extra)
        return r

    @staticmethod
    def component(code: str, value: float, unit: str = "mmHg", ucum: str | None = "mm[Hg]") -> JSON:
        q: JSON = {"value": value, "unit": unit}
        if ucum:
            q |= {"system": UCUM, "code": ucum}
        return {"code": {"coding": [{"system": LOINC, "code": code}]}, "valueQuantity": q}

    @staticmethod
    def cond(
        code: JSON,
        *,
        clinical: str | None = "active",
        verification: str | None = None,
        rid: str | None = None,
        **extra: Any,
    ) -> JSON:
        r: JSON = {
            "resourceType": "Condition",
            "id": rid or Fhir.next_id("c"),
            "code": code,
            "subject": Fhir.subject(),
        }
        if clinical is not None:
            r["clinicalStatus"] = {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": clinical,
                    }
                ]
            }
        if verification is not None:
            r["verificationStatus"] = {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                        "code": verification,
                    }
                ]
            }
        r.update(extra)
        return r

    @staticmethod
    def med(
        drug: JSON | None = None,
        *,
        kind: str = "MedicationRequest",
        status: str | None = "active",
        intent: str | None = "order",
        rid: str | None = None,
        **extra: Any,
    ) -> JSON:
        r: JSON = {"resourceType": kind, "id": rid or Fhir.next_id("m"), "subject": Fhir.subject()}
        if status is not None:
            r["status"] = status
        if kind == "MedicationRequest" and intent is not None:
            r["intent"] = intent
        if drug is not None:
            r["medicationCodeableConcept"] = drug
        r.update(extra)
        return r

    @staticmethod
    def bundle(*resources: JSON, btype: str = "collection") -> JSON:
        return {
            "resourceType": "Bundle",
            "type": btype,
            "entry": [{"resource": r} for r in resources],
        }

    @staticmethod
    def clinical_facts(patient: JSON, *resources: JSON, **kw: Any) -> ClinicalFacts:
        """Facts for a patient given explicitly (gender, address, race...)."""
        kw.setdefault("as_of", Fhir.AS_OF)
        return clinical_facts_from_fhir(Fhir.bundle(patient, *resources), **kw)

    @staticmethod
    def facts(*resources: JSON, with_patient: bool = True, **kw: Any) -> ClinicalFacts:
        res = [Fhir.patient(), *resources] if with_patient else list(resources)
        kw.setdefault("as_of", Fhir.AS_OF)
        return clinical_facts_from_fhir(Fhir.bundle(*res), **kw)


@pytest.fixture
def fhir() -> type[Fhir]:
    return Fhir
