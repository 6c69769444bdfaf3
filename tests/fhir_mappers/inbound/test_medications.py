"""Medications: drug identification (RxNorm, ATC, names in English and Chinese, brands,
contained and referenced Medications, ingredients), current-status rules, classes."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_mappers.medication_classes import atc_classes, name_classes
from models.clinical_facts import MedicationClass as C


def _classes(fhir: Any, *resources: dict[str, Any]) -> set[C]:
    return {m.drug_class for m in fhir.facts(*resources).medications}


@pytest.mark.parametrize(
    ("text", "classes"),
    [
        ("24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet", {C.METFORMIN}),
        ("insulin glargine 100 UNT/ML Pen Injector [Lantus]", {C.INSULIN}),
        ("Lantus SoloStar", {C.INSULIN}),
        ("Humalog KwikPen", {C.INSULIN}),
        ("Jardiance 10 mg", {C.SGLT2I}),
        ("dapagliflozin 10 MG Oral Tablet [Farxiga]", {C.SGLT2I}),
        ("Ozempic 1 mg/dose pen", {C.GLP1RA}),
        ("Mounjaro 5 mg", {C.GLP1RA}),
        ("Trulicity", {C.GLP1RA}),
        ("Januvia 100 mg", {C.DPP4I}),
        ("linagliptin 5 MG Oral Tablet", {C.DPP4I}),
        ("glipizide 5 MG Oral Tablet", {C.SULFONYLUREA}),
        ("Gliclazide MR 30 mg", {C.SULFONYLUREA}),
        ("pioglitazone 30 MG Oral Tablet", {C.TZD}),
        ("acarbose 50 MG", {C.ALPHA_GLUCOSIDASE_INHIBITOR}),
        ("repaglinide 1 MG", {C.GLINIDE}),
        ("atorvastatin 40 MG Oral Tablet", {C.STATIN}),
        ("Crestor 10 mg", {C.STATIN}),
        ("ezetimibe 10 MG", {C.EZETIMIBE}),
        ("Repatha SureClick", {C.PCSK9I}),
        ("fenofibrate 145 MG", {C.FIBRATE}),
        ("lisinopril 10 MG Oral Tablet", {C.ACEI}),
        ("ramipril 5 mg capsule", {C.ACEI}),
        ("losartan potassium 50 MG Oral Tablet", {C.ARB}),
        ("Entresto 49/51", {C.ARNI}),
        ("sacubitril 49 MG / valsartan 51 MG Oral Tablet", {C.ARNI}),
        ("amlodipine 5 MG Oral Tablet", {C.CCB}),
        ("hydrochlorothiazide 25 MG", {C.THIAZIDE}),
        ("furosemide 40 MG", {C.LOOP_DIURETIC}),
        ("spironolactone 25 MG", {C.MRA}),
        ("metoprolol succinate 50 MG", {C.BETA_BLOCKER}),
        ("aspirin 81 MG Delayed Release Oral Tablet", {C.ANTIPLATELET}),
        ("apixaban 5 MG", {C.ANTICOAGULANT}),
        ("sitagliptin 50 MG / metformin hydrochloride 1000 MG Oral Tablet", {C.DPP4I, C.METFORMIN}),
        ("Janumet 50/1000", {C.DPP4I, C.METFORMIN}),
        ("Synjardy 12.5/1000", {C.SGLT2I, C.METFORMIN}),
        ("Xultophy 100/3.6", {C.INSULIN, C.GLP1RA}),
        ("Vytorin 10/40", {C.STATIN, C.EZETIMIBE}),
        ("Hyzaar 50/12.5", {C.ARB, C.THIAZIDE}),
        ("二甲双胍缓释片 0.5g", {C.METFORMIN}),
        ("盐酸二甲双胍片", {C.METFORMIN}),
        ("甘精胰岛素注射液", {C.INSULIN}),
        ("达格列净片", {C.SGLT2I}),
        ("司美格鲁肽注射液", {C.GLP1RA}),
        ("磷酸西格列汀片", {C.DPP4I}),
        ("格列美脲片", {C.SULFONYLUREA}),
        ("吡格列酮", {C.TZD}),
        ("阿卡波糖片", {C.ALPHA_GLUCOSIDASE_INHIBITOR}),
        ("瑞格列奈", {C.GLINIDE}),
        ("阿托伐他汀钙片", {C.STATIN}),
        ("依折麦布", {C.EZETIMIBE}),
        ("缬沙坦胶囊", {C.ARB}),
        ("贝那普利", {C.ACEI}),
        ("氨氯地平", {C.CCB}),
        ("阿司匹林肠溶片", {C.ANTIPLATELET}),
        ("Vitamin D3 1000 IU", {C.OTHER}),
        ("potassium aspartate", {C.OTHER}),
    ],
)
def test_classes_by_name(fhir: Any, text: str, classes: set[C]) -> None:
    assert _classes(fhir, fhir.med({"text": text})) == classes


@pytest.mark.parametrize(
    ("code", "classes"),
    [
        ("A10BA02", {C.METFORMIN}),
        ("A10AE04", {C.INSULIN}),
        ("A10AB05", {C.INSULIN}),
        ("A10BK01", {C.SGLT2I}),
        ("A10BJ06", {C.GLP1RA}),
        ("A10BH01", {C.DPP4I}),
        ("A10BB09", {C.SULFONYLUREA}),
        ("A10BG03", {C.TZD}),
        ("A10BF01", {C.ALPHA_GLUCOSIDASE_INHIBITOR}),
        ("A10BX02", {C.GLINIDE}),
        ("A10BD07", {C.METFORMIN, C.DPP4I}),
        ("A10BD20", {C.METFORMIN, C.SGLT2I}),
        ("A10AE56", {C.INSULIN, C.GLP1RA}),
        ("C10AA05", {C.STATIN}),
        ("C10AX09", {C.EZETIMIBE}),
        ("C10BA02", {C.STATIN, C.EZETIMIBE}),
        ("C09AA02", {C.ACEI}),
        ("C09BA03", {C.ACEI, C.THIAZIDE}),
        ("C09CA01", {C.ARB}),
        ("C09DA01", {C.ARB, C.THIAZIDE}),
        ("C09DX04", {C.ARNI}),
        ("C08CA01", {C.CCB}),
        ("C03CA01", {C.LOOP_DIURETIC}),
        ("C03DA01", {C.MRA}),
        ("C07AB02", {C.BETA_BLOCKER}),
        ("B01AC06", {C.ANTIPLATELET}),
        ("B01AF02", {C.ANTICOAGULANT}),
        ("N02BE01", {C.OTHER}),
    ],
)
def test_classes_by_atc(fhir: Any, code: str, classes: set[C]) -> None:
    drug = {"coding": [{"system": fhir.ATC, "code": code}]}  # no display, no text
    assert _classes(fhir, fhir.med(drug)) == classes


@pytest.mark.parametrize(
    ("rxcui", "classes"),
    [("6809", {C.METFORMIN}), ("1545653", {C.SGLT2I}), ("83367", {C.STATIN}), ("29046", {C.ACEI})],
)
def test_rxnorm_ingredient_codes_without_display(fhir: Any, rxcui: str, classes: set[C]) -> None:
    drug = {"coding": [{"system": fhir.RXNORM, "code": rxcui}]}
    assert _classes(fhir, fhir.med(drug)) == classes


def test_rxnorm_clinical_drug_is_classified_by_its_display(fhir: Any) -> None:
    drug = {
        "coding": [
            {
                "system": fhir.RXNORM,
                "code": "860975",
                "display": "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet",
            }
        ]
    }
    meds = fhir.facts(fhir.med(drug, rid="mr")).medications
    assert [(m.drug_class, m.code, m.system, m.source) for m in meds] == [
        (C.METFORMIN, "860975", fhir.RXNORM, "MedicationRequest/mr")
    ]
    assert meds[0].name.startswith("24 HR metformin")


def test_contained_medication(fhir: Any) -> None:
    req = fhir.med(
        None,
        contained=[{"resourceType": "Medication", "id": "m", "code": {"text": "Jardiance"}}],
        medicationReference={"reference": "#m"},
    )
    assert _classes(fhir, req) == {C.SGLT2I}


@pytest.mark.parametrize(
    ("full_url", "reference"),
    [
        (None, "Medication/med1"),
        (
            "urn:uuid:1e6e2d0a-1d1b-4cfe-9c43-b8d6a53a1a11",
            "urn:uuid:1e6e2d0a-1d1b-4cfe-9c43-b8d6a53a1a11",
        ),
        ("http://ehr/fhir/Medication/med1", "http://ehr/fhir/Medication/med1"),
    ],
)
def test_referenced_medication_elsewhere_in_the_bundle(
    fhir: Any, full_url: str | None, reference: str
) -> None:
    from fhir_mappers.inbound import clinical_facts_from_fhir

    med = {
        "resourceType": "Medication",
        "id": "med1",
        "code": {"coding": [{"system": fhir.ATC, "code": "C10AA07", "display": "rosuvastatin"}]},
    }
    req = fhir.med(None, medicationReference={"reference": reference})
    data = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": fhir.patient()},
            {"resource": req},
            {"resource": med} | ({"fullUrl": full_url} if full_url else {}),
        ],
    }
    facts = clinical_facts_from_fhir(data, as_of=fhir.AS_OF)
    assert {m.drug_class for m in facts.medications} == {C.STATIN}


def test_unresolved_reference_uses_its_display(fhir: Any) -> None:
    req = fhir.med(
        None, rid="r", medicationReference={"reference": "Medication/gone", "display": "Ozempic"}
    )
    facts = fhir.facts(req)
    assert {m.drug_class for m in facts.medications} == {C.GLP1RA}
    assert any("medicationReference not in the input" in w for w in facts.warnings)


def test_unresolved_reference_without_display_is_kept_as_other(fhir: Any) -> None:
    req = fhir.med(None, medicationReference={"reference": "Medication/gone"})
    meds = fhir.facts(req).medications
    assert [m.drug_class for m in meds] == [C.OTHER]


def test_medication_without_code_uses_its_ingredients(fhir: Any) -> None:
    med = {
        "resourceType": "Medication",
        "id": "combo",
        "ingredient": [
            {"itemCodeableConcept": {"text": "sitagliptin"}},
            {"itemCodeableConcept": {"text": "metformin"}},
        ],
    }
    req = fhir.med(None, contained=[med], medicationReference={"reference": "#combo"})
    meds = fhir.facts(req).medications
    assert {m.drug_class for m in meds} == {C.DPP4I, C.METFORMIN}
    assert meds[0].name == "sitagliptin / metformin"


@pytest.mark.parametrize(
    ("kind", "status", "intent", "current"),
    [
        ("MedicationRequest", "active", "order", True),
        ("MedicationRequest", "on-hold", "order", True),
        ("MedicationRequest", "active", "plan", True),
        ("MedicationRequest", "active", "original-order", True),
        ("MedicationRequest", "active", "proposal", False),
        ("MedicationRequest", "active", "option", False),
        ("MedicationRequest", "completed", "order", False),
        ("MedicationRequest", "stopped", "order", False),
        ("MedicationRequest", "cancelled", "order", False),
        ("MedicationRequest", "draft", "order", False),
        ("MedicationRequest", "entered-in-error", "order", False),
        ("MedicationRequest", "active", None, True),
        ("MedicationStatement", "active", None, True),
        ("MedicationStatement", "completed", None, False),
        ("MedicationStatement", "stopped", None, False),
        ("MedicationStatement", "not-taken", None, False),
        ("MedicationStatement", "intended", None, False),
        ("MedicationStatement", "entered-in-error", None, False),
    ],
)
def test_current_medication_rules(
    fhir: Any, kind: str, status: str, intent: str | None, current: bool
) -> None:
    med = fhir.med({"text": "metformin 500 mg"}, kind=kind, status=status, intent=intent)
    assert bool(fhir.facts(med).medications) is current


def test_statement_whose_period_ended_is_not_current(fhir: Any) -> None:
    ended = fhir.med(
        {"text": "metformin"},
        kind="MedicationStatement",
        rid="ms",
        effectivePeriod={"start": "2020-01-01", "end": "2024-12-31"},
    )
    facts = fhir.facts(ended)
    assert facts.medications == ()
    assert any("effectivePeriod ended" in w for w in facts.warnings)


def test_supplies_are_not_medications(fhir: Any) -> None:
    assert fhir.facts(fhir.med({"text": "Insulin pen needles 32G"})).medications == ()


def test_the_same_drug_prescribed_and_reported_appears_once(fhir: Any) -> None:
    drug = {"text": "Metformin 500 mg"}
    meds = fhir.facts(
        fhir.med(drug, authoredOn="2024-01-01"),
        fhir.med(drug, kind="MedicationStatement", effectiveDateTime="2025-03-01"),
    ).medications
    assert len(meds) == 1 and meds[0].date is not None and meds[0].date.isoformat() == "2025-03-01"


def test_malformed_medication_resources_never_raise(fhir: Any) -> None:
    fhir.facts(
        fhir.med("metformin"),
        fhir.med(None, medicationReference="Medication/x"),
        fhir.med(None, medicationReference={"reference": 5}),
        fhir.med({"coding": {"system": fhir.ATC, "code": "A10BA02"}}),
        fhir.med({"coding": [{"system": fhir.ATC, "code": ["A10"]}]}),
        fhir.med(None, contained="x", medicationReference={"reference": "#x"}),
        fhir.med({"text": "x"}, status=["active"]),
    )


def test_no_medication_element(fhir: Any) -> None:
    facts = fhir.facts(fhir.med(None, rid="empty"))
    assert facts.medications == ()
    assert "MedicationRequest/empty: no medication[x]; ignored" in facts.warnings


def test_table_helpers() -> None:
    assert atc_classes("a10ba02") == (C.METFORMIN,)
    assert atc_classes("Z99") == ()
    assert name_classes("") == ()
