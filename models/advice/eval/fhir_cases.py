"""Evaluation cases that start from FHIR: a Bundle written the way EHRs send it, mapped to
ClinicalFacts by the inbound mappers, then advised. Each row of cases.jsonl keeps the bundle
(`fhir`) beside the facts it maps to, so the CLI can evaluate the file without the mapper
and tests/models/advice/test_eval_cases.py can check the whole path (bundle -> facts ->
advice). models/ does not import fhir_mappers: the mapper is passed in (build_cases.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

from models.clinical_facts import ClinicalFacts

FactsFromFhir = Callable[..., ClinicalFacts]
"""clinical_facts_from_fhir(data, as_of=...)"""

AS_OF = "2025-03-01"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
JSON = dict[str, Any]


class _Record:
    """A tiny bundle writer: one patient, resources with ids and subject references."""

    def __init__(self, patient: JSON) -> None:
        self.entries: list[JSON] = [{"resourceType": "Patient", "id": "p", **patient}]
        self._n = 0

    def _add(self, rtype: str, body: JSON) -> _Record:
        self._n += 1
        rid = f"{rtype[:3].lower()}{self._n}"
        self.entries.append({"resourceType": rtype, "id": rid, "subject": _PATIENT, **body})
        return self

    def condition(self, system: str, code: str, display: str, **extra: Any) -> _Record:
        body: JSON = {
            "clinicalStatus": {"coding": [{"code": extra.pop("clinical", "active")}]},
            "code": {"coding": [{"system": system, "code": code, "display": display}]},
            **extra,
        }
        return self._add("Condition", body)

    def lab(
        self, code: str, value: float, unit: str, when: str = "2025-02-10", **extra: Any
    ) -> _Record:
        body: JSON = {
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "effectiveDateTime": when,
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
            **extra,
        }
        return self._add("Observation", body)

    def obs(self, code: JSON, when: str = "2025-02-10", **value: Any) -> _Record:
        return self._add(
            "Observation", {"status": "final", "code": code, "effectiveDateTime": when, **value}
        )

    def med(self, rxnorm: str, name: str) -> _Record:
        body: JSON = {
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {
                "coding": [{"system": RXNORM, "code": rxnorm, "display": name}],
                "text": name,
            },
        }
        return self._add("MedicationRequest", body)

    def procedure(self, code: str, when: str, status: str = "completed") -> _Record:
        body: JSON = {
            "status": status,
            "code": {"coding": [{"system": SNOMED, "code": code}]},
            "performedDateTime": when,
        }
        return self._add("Procedure", body)

    def bundle(self) -> JSON:
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [
                {
                    "fullUrl": f"https://ehr.example/fhir/{r['resourceType']}/{r['id']}",
                    "resource": r,
                }
                for r in self.entries
            ],
        }


_PATIENT = {"reference": "Patient/p"}
_SMOKING_NEVER = {"coding": [{"system": LOINC, "code": "72166-2"}]}


def _t2(patient: JSON) -> _Record:
    """Type 2 diabetes since 2018, never smoker, a full recent panel (HbA1c 6.8%, BP 124/76,
    eGFR 85, UACR 12, LDL 2.2 mmol/L, BMI 23.5) unless a case adds its own values."""
    return (
        _Record(patient)
        .condition(SNOMED, "44054006", "Type 2 diabetes mellitus", onsetDateTime="2018-04-01")
        .obs(
            _SMOKING_NEVER,
            valueCodeableConcept={"coding": [{"system": SNOMED, "code": "266919005"}]},
        )
        .med("6809", "metformin")
    )


def _panel(r: _Record, *, hba1c: float = 6.8, bmi: float = 23.5, sbp: float = 124) -> _Record:
    return (
        r.lab("4548-4", hba1c, "%")
        .lab("8480-6", sbp, "mm[Hg]")
        .lab("8462-4", 76, "mm[Hg]")
        .lab("62238-1", 85, "mL/min/{1.73_m2}")
        .lab("9318-7", 12, "mg/g")
        .lab("18262-6", 85, "mg/dL")
        .lab("39156-5", bmi, "kg/m2")
    )


def _cases() -> Iterator[tuple[str, str, JSON, JSON | None, list[str], list[str]]]:
    """(id, description, bundle, grading, must_include, must_not_include)"""
    female_1965 = {"gender": "female", "birthDate": "1965-06-01"}
    yield (
        "fhir-bmi-24.5-address-china",
        "Patient address in China, BMI 24.5: CDS overweight criteria (>=24) apply",
        _panel(
            _t2({**female_1965, "address": [{"city": "北京", "country": "CN"}]}), bmi=24.5
        ).bundle(),
        None,
        ["WT-LOSS-CHINESE"],
        ["WT-LOSS-GENERAL", "WT-LOSS-ASIAN-AMERICAN"],
    )
    yield (
        "fhir-bmi-24.5-us",
        "Same record with a US address and no race: ADA general cut-off (25), no weight advice",
        _panel(
            _t2({**female_1965, "address": [{"city": "Boston", "country": "US"}]}), bmi=24.5
        ).bundle(),
        None,
        [],
        ["WT-LOSS-CHINESE", "WT-LOSS-GENERAL", "WT-LOSS-ASIAN-AMERICAN"],
    )
    race = {
        "url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
        "extension": [
            {
                "url": "ombCategory",
                "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": "2028-9"},
            }
        ],
    }
    yield (
        "fhir-us-core-asian-bmi-23.5",
        "US Core race Asian, BMI 23.5: ADA Asian American cut-off (23)",
        _panel(_t2({**female_1965, "extension": [race]}), bmi=23.5).bundle(),
        None,
        ["WT-LOSS-ASIAN-AMERICAN"],
        ["WT-LOSS-GENERAL", "WT-LOSS-CHINESE"],
    )
    disagree = _panel(_t2(female_1965), hba1c=7.2).lab("59261-8", 80, "mmol/mol")
    yield (
        "fhir-hba1c-units-disagree",
        "HbA1c 7.2% and 80 mmol/mol (9.5%) the same day: confirm, do not intensify on it",
        disagree.bundle(),
        None,
        ["DATA-HBA1C-CONFLICT"],
        ["GLY-ABOVE-GOAL"],
    )
    cfs = {"coding": [{"system": SNOMED, "code": "763264000"}]}
    frail = (
        _panel(_t2({"gender": "male", "birthDate": "1940-02-01"}), hba1c=9.0, sbp=136)
        .med("274783", "insulin glargine")
        .obs(cfs, when="2025-01-15", valueInteger=7)
    )
    yield (
        "fhir-cfs-7-very-complex",
        "85-year-old, Clinical Frailty Scale 7 on insulin, HbA1c 9.0%: no HbA1c target, <140/90",
        frail.bundle(),
        None,
        ["GLY-GOAL-VERY-COMPLEX", "BP-GOAL-FRAIL", "MED-HYPO-RISK-OLDER"],
        ["GLY-ABOVE-GOAL", "GLY-GOAL-OLDER", "BP-ABOVE-GOAL", "re.en:<7%"],
    )
    hypo = (
        _panel(_t2(female_1965), hba1c=7.6)
        .condition(
            ICD10CM,
            "E11.649",
            "Type 2 diabetes mellitus with hypoglycemia without coma",
            recordedDate="2024-10-02",
        )
        .med("4815", "glipizide")
    )
    yield (
        "fhir-e11-649-on-glipizide",
        "E11.649 hypoglycaemia on glipizide: <8.0% goal, reevaluate, glucagon",
        hypo.bundle(),
        None,
        ["GLY-GOAL-RELAXED", "GLY-HYPO-REEVALUATE", "GLY-GLUCAGON"],
        ["GLY-ABOVE-GOAL", "GLY-GOAL-ADULT"],
    )
    palliative = _panel(_t2({"gender": "male", "birthDate": "1962-01-01"}), hba1c=8.4).condition(
        "http://hl7.org/fhir/sid/icd-10",
        "Z51.5",
        "Encounter for palliative care",
        clinical="active",
        recordedDate="2025-01-20",
    )
    yield (
        "fhir-palliative-care",
        "palliative care this year: less stringent HbA1c goal (<8.0%)",
        palliative.bundle(),
        None,
        ["GLY-GOAL-RELAXED", "GLY-ABOVE-GOAL"],
        ["GLY-GOAL-ADULT"],
    )
    audit = _panel(_t2({"gender": "male", "birthDate": "1970-03-03"})).obs(
        {"coding": [{"system": LOINC, "code": "75626-2"}]}, valueInteger=8
    )
    yield (
        "fhir-audit-c-8",
        "AUDIT-C 8 (positive screen): heavy drinking advice",
        audit.bundle(),
        None,
        ["LIFE-ALCOHOL-HEAVY", "LIFE-ALCOHOL-LIMIT"],
        [],
    )
    pregnant = (
        _Record({"gender": "female", "birthDate": "1992-05-05"})
        .condition(SNOMED, "44054006", "Type 2 diabetes mellitus", onsetDateTime="2021-01-01")
        .condition(SNOMED, "38341003", "Hypertensive disorder")
        .obs(
            {"coding": [{"system": LOINC, "code": "82810-3"}]},
            valueCodeableConcept={"coding": [{"system": LOINC, "code": "LA15173-0"}]},
        )
        .lab("9318-7", 150, "mg/g")
        .lab("8480-6", 144, "mm[Hg]")
        .lab("8462-4", 92, "mm[Hg]")
        .med("29046", "lisinopril")
        .med("83367", "atorvastatin")
        .med("274783", "insulin glargine")
    )
    yield (
        "fhir-pregnant-htn-albuminuria-on-acei-statin",
        "pregnant, hypertension 144/92, UACR 150 on lisinopril and atorvastatin: stop both",
        pregnant.bundle(),
        None,
        ["MED-PREG-TERATOGENS", "BP-PREGNANCY", "GLY-GOAL-PREGNANCY"],
        [
            "BP-ACEI-ARB-ALBUMINURIA",
            "LIP-CONTINUE-STATIN",
            "MED-SGLT2I-CKD",
            "MED-FINERENONE",
            "MED-RAAS-MONITOR",
            "BP-GOAL-GENERAL",
        ],
    )
    recent_exam = _panel(_t2(female_1965)).procedure("20067007", "2024-07-01")
    yield (
        "fhir-fundus-photo-8-months-ago",
        "fundus photography 8 months ago, no images now: screening not yet due",
        recent_exam.bundle(),
        None,
        [],
        ["MEAS-EYE-EXAM"],
    )
    dr = {"coding": [{"system": LOINC, "code": "71491-5"}]}
    moderate = {"coding": [{"system": LOINC, "code": "LA18645-4"}]}
    old_dr_exam = _panel(_t2(female_1965)).obs(dr, when="2023-12-01", valueCodeableConcept=moderate)
    yield (
        "fhir-dr-found-15-months-ago",
        "moderate NPDR recorded 15 months ago, no exam since: retinal examination overdue",
        old_dr_exam.bundle(),
        None,
        ["MEAS-EYE-EXAM"],
        ["EYE-NONE-SCREEN"],
    )


def fhir_case_rows(facts_from_fhir: FactsFromFhir | None, stored: dict[str, JSON]) -> list[JSON]:
    """The cases as cases.jsonl rows; facts from the mapper when given, else as stored."""
    rows: list[JSON] = []
    for cid, desc, bundle, grading, inc, exc in _cases():
        if facts_from_fhir is not None:
            facts = facts_from_fhir(bundle, as_of=date.fromisoformat(AS_OF))
            facts_json: JSON = facts.model_dump(mode="json", exclude_defaults=True)
        elif cid in stored:
            facts_json = stored[cid]
        else:
            raise ValueError(f"{cid}: no stored facts; run build_cases.main with the mapper")
        rows.append(
            {
                "id": cid,
                "description": desc,
                "fhir": bundle,
                "facts": facts_json,
                "grading": grading,
                "context": None,
                "must_include": inc,
                "must_not_include": exc,
            }
        )
    return rows
