"""What input is accepted, which patient is meant, and how references resolve."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_mappers.inbound import FhirInputError, clinical_facts_from_fhir


def _hba1c(fhir: Any, subject: str, value: float = 7.1) -> dict[str, Any]:
    return fhir.obs("4548-4", value, "%", "%", subject={"reference": subject})


@pytest.mark.parametrize("btype", ["collection", "searchset", "transaction", "batch", "document"])
def test_bundles_of_any_type_are_read(fhir: Any, btype: str) -> None:
    data = fhir.bundle(fhir.patient(), _hba1c(fhir, "Patient/p1"), btype=btype)
    facts = clinical_facts_from_fhir(data, as_of=fhir.AS_OF)
    assert facts.patient_ref == "Patient/p1"
    assert facts.value("hba1c") == 7.1


def test_a_json_array_of_resources_is_read(fhir: Any) -> None:
    facts = clinical_facts_from_fhir([fhir.patient(), _hba1c(fhir, "Patient/p1")], as_of=fhir.AS_OF)
    assert facts.value("hba1c") == 7.1


def test_a_lone_patient_gives_demographics_only(fhir: Any) -> None:
    facts = clinical_facts_from_fhir(
        fhir.patient(gender="male", birth="1980-07-01"), as_of=fhir.AS_OF
    )
    assert facts.age_years == 44 and facts.sex.value == "male"
    assert facts.measurements == {} and facts.diabetes is None


def test_search_bundles_skip_outcomes_and_read_included_resources(fhir: Any) -> None:
    data = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"resource": _hba1c(fhir, "Patient/p1"), "search": {"mode": "match"}},
            {"resource": fhir.patient(), "search": {"mode": "include"}},
            {
                "resource": {"resourceType": "OperationOutcome", "issue": []},
                "search": {"mode": "outcome"},
            },
        ],
    }
    facts = clinical_facts_from_fhir(data, as_of=fhir.AS_OF)
    assert facts.value("hba1c") == 7.1 and facts.age_years is not None


def test_nested_bundles_are_flattened_and_deletes_skipped(fhir: Any) -> None:
    inner = fhir.bundle(_hba1c(fhir, "Patient/p1", 8.0), btype="searchset")
    data = {
        "resourceType": "Bundle",
        "type": "batch-response",
        "entry": [
            {"resource": fhir.patient()},
            {"resource": inner, "response": {"status": "200"}},
            {"request": {"method": "DELETE", "url": "Observation/x"}},
            {"resource": fhir.obs("2345-7", 5.0, "mmol/L"), "request": {"method": "DELETE"}},
            {"response": {"status": "201 Created"}},
        ],
    }
    facts = clinical_facts_from_fhir(data, as_of=fhir.AS_OF)
    assert facts.value("hba1c") == 8.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("a string", "not FHIR"),
        (42, "not FHIR"),
        (None, "not FHIR"),
        ({"entry": []}, "no resourceType"),
        ({"resourceType": 7}, "resourceType is not a string"),
        ({"resourceType": "Observation", "status": "final"}, "got Observation"),
        ({"resourceType": "OperationOutcome"}, "got OperationOutcome"),
        ({"resourceType": "Bundle", "type": "collection"}, "no entries"),
        ({"resourceType": "Bundle", "entry": []}, "no entries"),
        ({"resourceType": "Bundle", "entry": {"resource": {}}}, "entry is not an array"),
        ([], "empty"),
        ([1, 2, 3], "no resource with a resourceType"),
        ({"resourceType": "Bundle", "entry": [{"fullUrl": "x"}]}, "no readable resources"),
    ],
)
def test_unusable_input_raises_a_clear_error(fhir: Any, data: Any, message: str) -> None:
    with pytest.raises(FhirInputError, match=message):
        clinical_facts_from_fhir(data, as_of=fhir.AS_OF)


def test_malformed_entries_are_skipped_with_warnings(fhir: Any) -> None:
    data = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": fhir.patient()},
            "not an object",
            {"resource": {"no": "type"}},
            {"resource": _hba1c(fhir, "Patient/p1")},
        ],
    }
    facts = clinical_facts_from_fhir(data, as_of=fhir.AS_OF)
    assert facts.value("hba1c") == 7.1
    assert any("entry[1]: not a JSON object" in w for w in facts.warnings)
    assert any("entry[2]: resource without resourceType" in w for w in facts.warnings)


def test_several_patients_need_a_choice(fhir: Any) -> None:
    data = fhir.bundle(
        fhir.patient("p1"),
        fhir.patient("p2", gender="male"),
        _hba1c(fhir, "Patient/p1", 7.1),
        _hba1c(fhir, "Patient/p2", 9.9),
    )
    with pytest.raises(FhirInputError, match="2 Patient resources"):
        clinical_facts_from_fhir(data, as_of=fhir.AS_OF)
    p2 = clinical_facts_from_fhir(data, as_of=fhir.AS_OF, patient_id="p2")
    assert p2.patient_ref == "Patient/p2" and p2.sex.value == "male" and p2.value("hba1c") == 9.9
    p1 = clinical_facts_from_fhir(data, as_of=fhir.AS_OF, patient_id="Patient/p1")
    assert p1.value("hba1c") == 7.1
    with pytest.raises(FhirInputError, match="no patient with id p3"):
        clinical_facts_from_fhir(data, as_of=fhir.AS_OF, patient_id="p3")


def test_without_a_patient_resource_the_one_referenced_patient_is_used(fhir: Any) -> None:
    facts = clinical_facts_from_fhir([_hba1c(fhir, "Patient/p9")], as_of=fhir.AS_OF)
    assert facts.patient_ref == "Patient/p9" and facts.age_years is None
    assert facts.value("hba1c") == 7.1
    assert any("no Patient resource" in w for w in facts.warnings)
    with pytest.raises(FhirInputError, match="2 patients referred to"):
        clinical_facts_from_fhir(
            [_hba1c(fhir, "Patient/a"), _hba1c(fhir, "Patient/b")], as_of=fhir.AS_OF
        )
    with pytest.raises(FhirInputError, match="no resource refers to a patient"):
        clinical_facts_from_fhir([{"resourceType": "Medication", "id": "x"}], as_of=fhir.AS_OF)


@pytest.mark.parametrize(
    "reference",
    [
        "Patient/p1",
        "http://ehr.example/fhir/Patient/p1",
        "https://ehr.example/fhir/R4/Patient/p1/_history/3",
        "urn:uuid:6f1c2f0e-2a57-4b1e-9a53-2d1b7d6c9e10",
    ],
)
def test_subject_references_in_every_form_match_the_patient(fhir: Any, reference: str) -> None:
    data = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:6f1c2f0e-2a57-4b1e-9a53-2d1b7d6c9e10",
                "resource": fhir.patient(),
            },
            {"resource": _hba1c(fhir, reference)},
        ],
    }
    facts = clinical_facts_from_fhir(data, as_of=fhir.AS_OF)
    assert facts.value("hba1c") == 7.1


def test_other_patients_resources_are_left_out(fhir: Any) -> None:
    facts = fhir.facts(_hba1c(fhir, "Patient/someone-else", 12.0))
    assert "hba1c" not in facts.measurements


def test_subject_by_identifier_matches(fhir: Any) -> None:
    patient = fhir.patient() | {"identifier": [{"system": "urn:mrn", "value": "123"}]}
    obs = fhir.obs(
        "4548-4", 6.9, "%", subject={"identifier": {"system": "urn:mrn", "value": "123"}}
    )
    other = fhir.obs(
        "4548-4", 9.9, "%", subject={"identifier": {"system": "urn:mrn", "value": "9"}}
    )
    facts = clinical_facts_from_fhir(fhir.bundle(patient, obs, other), as_of=fhir.AS_OF)
    assert facts.value("hba1c") == 6.9


def test_resources_without_subject(fhir: Any) -> None:
    orphan = fhir.obs("4548-4", 7.3, "%")
    del orphan["subject"]
    facts = fhir.facts(orphan)
    assert facts.value("hba1c") == 7.3
    assert any("no subject" in w for w in facts.warnings)
    data = fhir.bundle(fhir.patient("p1"), fhir.patient("p2"), orphan)
    facts = clinical_facts_from_fhir(data, as_of=fhir.AS_OF, patient_id="p1")
    assert "hba1c" not in facts.measurements


def test_id_less_resources_are_named_by_their_full_url(fhir: Any) -> None:
    obs = _hba1c(fhir, "urn:uuid:00000000-0000-4000-8000-000000000001")
    del obs["id"]
    data = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000001",
                "resource": fhir.patient(),
            },
            {"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000002", "resource": obs},
        ],
    }
    facts = clinical_facts_from_fhir(data, as_of=fhir.AS_OF)
    assert facts.measurements["hba1c"].source == "urn:uuid:00000000-0000-4000-8000-000000000002"
