"""Whole records written the way real systems write them (Synthea, an Epic-style search
Bundle with _include, an IPS document, a Chinese HIS export as a JSON array), and a
mutation test: no malformed variant of a record makes the mapper raise."""

from __future__ import annotations

import copy
import json
import random
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from fhir_mappers.inbound import FhirInputError, clinical_facts_from_fhir
from models.clinical_facts import ClinicalFacts, DiabetesType, MedicationClass, SmokingStatus

FIXTURES = Path(__file__).parent / "fixtures"
AS_OF = date(2025, 6, 30)


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _facts(name: str, **kw: Any) -> ClinicalFacts:
    return clinical_facts_from_fhir(_load(name), as_of=AS_OF, **kw)


def test_synthea_style_transaction() -> None:
    f = _facts("synthea_style.json")
    assert f.patient_ref == "Patient/8f789d0b-3145-4cf2-8504-13159edaa747"
    assert (f.age_years, f.sex.value) == (67, "male")
    d = f.diabetes
    assert d is not None and d.present and d.type == DiabetesType.TYPE2
    assert d.onset == date(2006, 3, 7) and d.duration_years == 19.3
    assert f.prior_dr is not None and f.prior_dr.present
    assert f.hypertension is not None and f.ckd is not None and f.ckd_stage == "2"
    assert f.smoking is not None and f.smoking.status == SmokingStatus.NEVER
    assert f.value("hba1c") == 7.54
    assert (f.value("sbp"), f.value("dbp")) == (137, 84)
    assert f.value("bmi") == 30.12 and f.value("egfr") == 71.2 and f.value("uacr") == 41.3
    assert f.value("ldl") == pytest.approx(104.9 / 38.67, abs=0.01)
    assert "fasting_glucose" not in f.measurements  # 2339-0 is a random glucose
    assert f.measurements["hba1c"].date == date(2024, 11, 5)
    assert {m.drug_class for m in f.medications} == {
        MedicationClass.METFORMIN,
        MedicationClass.ACEI,
    }
    assert f.warnings == ()


def test_epic_style_search_bundle() -> None:
    f = _facts("epic_style_searchset.json")
    assert f.patient_ref == "Patient/eAB3mDIBBcyUKviyzrxsnAw3"
    assert (f.age_years, f.sex.value) == (37, "female")
    d = f.diabetes
    assert d is not None and d.type == DiabetesType.TYPE1 and d.duration_years == 26.1
    assert f.prior_dr is not None and f.prior_dme is None  # "without macular edema"
    assert f.pregnancy is not None and f.pregnancy.present
    hba1c = f.measurements["hba1c"]
    assert (hba1c.value, hba1c.source, hba1c.status) == (6.9, "Observation/eHbA1c1", "final")
    uacr = f.measurements["uacr"]
    assert (uacr.value, uacr.comparator) == (30.0, "<")
    egfr = f.measurements["egfr"]
    assert (egfr.value, egfr.comparator) == (60.0, ">")
    assert (f.value("sbp"), f.value("dbp")) == (118, 72)
    assert f.value("weight") == pytest.approx(66.41, abs=0.01)  # 2342.4 oz
    assert f.value("bmi") == pytest.approx(25.1, abs=0.05)  # computed: 66.4 kg, 162.6 cm
    assert [m.drug_class for m in f.medications] == [MedicationClass.INSULIN] * 2
    assert {m.source for m in f.medications} == {
        "MedicationRequest/eMR1",
        "MedicationRequest/eMR2",
    }
    sides = sorted((i.laterality, i.url) for i in f.images)
    assert sides == [("left", "Binary/eFundusOS"), ("right", "Binary/eFundusOD")]
    assert f.warnings == ()


def test_ips_document() -> None:
    f = _facts("ips_document.json")
    assert f.patient_ref == "Patient/7685713c-e29e-4a75-8a90-45be7ba3be94"
    assert f.age_years == 53  # birthDate 1972-05, read as 1 May
    assert any("month precision" in w for w in f.warnings)
    assert f.diabetes is not None and f.diabetes.type == DiabetesType.TYPE2
    assert f.ascvd is not None and f.ascvd.present  # MI in "remission": still history
    assert f.value("hba1c") == pytest.approx(7.46, abs=0.01)
    assert f.value("total_cholesterol") == pytest.approx(190 / 38.67, abs=0.01)
    assert f.smoking is not None and f.smoking.status == SmokingStatus.FORMER
    assert {m.drug_class for m in f.medications} == {
        MedicationClass.STATIN,
        MedicationClass.METFORMIN,
        MedicationClass.DPP4I,
    }


def test_chinese_his_export() -> None:
    f = _facts("chinese_his_array.json")
    assert f.patient_ref == "Patient/zy-20250001" and f.age_years == 61
    assert f.diabetes is not None and f.diabetes.type == DiabetesType.TYPE2
    assert f.diabetes.onset == date(2010, 5, 1)
    assert f.hypertension is not None and f.ckd is not None and f.ckd_stage == "3"
    assert f.value("hba1c") == 9.1 and f.value("ldl") == 3.62 and f.value("sbp") == 162
    # A bare "10.2" under a local code: the unit cannot be known, so it is not used.
    assert "fasting_glucose" not in f.measurements
    assert any("Observation/jy-2" in w and "dropped" in w for w in f.warnings)
    assert {m.drug_class for m in f.medications} == {
        MedicationClass.METFORMIN,
        MedicationClass.INSULIN,
        MedicationClass.CCB,
    }


def test_facts_round_trip_as_json() -> None:
    f = _facts("epic_style_searchset.json")
    again = ClinicalFacts.model_validate_json(f.model_dump_json())
    assert again == f


# --- Mutation: malformed variants never raise ---------------------------------------------

_JUNK: tuple[Any, ...] = (None, 0, -1, 1e308, True, "", "x", "2025-99-99", [], [None], {}, {"a": 1})


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _set(node: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


@pytest.mark.parametrize(
    "name",
    [
        "synthea_style.json",
        "epic_style_searchset.json",
        "ips_document.json",
        "chinese_his_array.json",
    ],
)
def test_no_malformed_variant_raises(name: str) -> None:
    original = _load(name)
    paths = [p for p in _paths(original) if "resourceType" not in p]
    rng = random.Random(name)
    for _ in range(150):
        data = copy.deepcopy(original)
        for path in rng.sample(paths, 3):
            try:
                _set(data, path, rng.choice(_JUNK))
            except (TypeError, KeyError, IndexError):
                continue  # an earlier mutation replaced a parent
        try:
            facts = clinical_facts_from_fhir(data, as_of=AS_OF)
        except FhirInputError:
            continue  # the whole input became unusable: a clear error is the right answer
        assert isinstance(facts, ClinicalFacts)
