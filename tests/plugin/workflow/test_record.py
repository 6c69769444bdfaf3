"""read_record: search forms and fallbacks, paging limits, referenced Medications, our
prior reports, and building a record from resources at hand (CDS prefetch)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from fhir_mappers import codes
from fhir_mappers.outbound.identifiers import IDENTIFIER_SYSTEMS
from plugin.fhir.memory import InMemoryFhirGateway
from plugin.workflow import InvalidRequest, PatientNotFound, record
from plugin.workflow.record import build_record, parse_patient_ref, read_record
from plugin.workflow.service import advice_context

TODAY = date(2026, 3, 2)


def our_report(patient: str, effective: str, *, ours: bool = True) -> dict[str, Any]:
    system = IDENTIFIER_SYSTEMS["DiagnosticReport"] if ours else "urn:other"
    return {
        "resourceType": "DiagnosticReport",
        "identifier": [{"system": system, "value": effective}],
        "status": "final",
        "code": {"coding": [{"system": codes.LOINC, "code": "103592-2"}]},
        "subject": {"reference": patient},
        "effectiveDateTime": effective,
        "issued": effective + "T10:00:00Z",
        "conclusionCode": [{"coding": [{"system": codes.DEEPDR_CODES, "code": "no-referable-dr"}]}],
    }


def test_first_search_forms_on_a_server_that_takes_them(kit: Any) -> None:
    gw = kit.ServerLikeGateway()
    rec = kit.make_record(gw, {"right": (90, 0, 0)})
    got = read_record(gw, rec.patient_ref, TODAY)
    assert got.facts.value("hba1c") == 8.4 and got.facts.diabetes is not None
    assert [i.source for i in got.facts.images] == [rec.media_refs["right"]]
    assert got.warnings == ()
    forms = {rtype: dict(params) for rtype, params in gw.searches}
    assert all(p["patient"] == rec.patient_ref for p in forms.values())
    assert forms["Observation"]["_sort"] == "-date"
    assert forms["DiagnosticReport"]["code"] == f"{codes.LOINC}|103592-2"
    assert set(forms) == {s.resource_type for s in record.RECORD_SEARCHES}


def test_refused_forms_fall_back_to_plain_patient_searches(kit: Any) -> None:
    gw = InMemoryFhirGateway()  # answers 400 to _sort and code, like a strict server
    rec = kit.make_record(gw, {"left": (90, 0, 0)})
    gw.create(our_report(rec.patient_ref, "2025-11-03"))
    got = read_record(gw, rec.patient_ref, TODAY)
    assert got.facts.value("hba1c") == 8.4 and len(got.facts.images) == 1
    assert [r.effective for r in got.prior_reports] == [date(2025, 11, 3)]
    assert got.warnings == ()


def test_page_cap_is_reported_and_keeps_the_newest(
    kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = kit.ServerLikeGateway()
    rec = kit.make_record(gw)
    for day in range(1, 6):
        gw.create(
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": codes.LOINC, "code": "8867-4"}]},
                "subject": {"reference": rec.patient_ref},
                "effectiveDateTime": f"2026-01-0{day}",
                "valueQuantity": {"value": 60 + day, "unit": "/min"},
            }
        )
    monkeypatch.setattr(record, "PAGE_SIZE", 2)
    monkeypatch.setattr(record, "MAX_PAGES", 1)
    got = read_record(gw, rec.patient_ref, TODAY)
    assert "Observation search stopped after 1 pages; older resources not read" in got.warnings


def test_referenced_medications_are_read_and_missing_ones_warned(kit: Any) -> None:
    gw = kit.ServerLikeGateway()
    rec = kit.make_record(gw)
    med = gw.create(
        {
            "resourceType": "Medication",
            "code": {
                "coding": [
                    {
                        "system": codes.RXNORM,
                        "code": "6809",
                        "display": "metformin",
                    }
                ]
            },
        }
    ).reference
    for ref in (med, "Medication/gone"):
        gw.create(
            {
                "resourceType": "MedicationRequest",
                "status": "active",
                "intent": "order",
                "subject": {"reference": rec.patient_ref},
                "medicationReference": {"reference": ref},
            }
        )
    got = read_record(gw, rec.patient_ref, TODAY)
    # The unreadable one stays a medication of unknown class (the mapper's rule).
    assert [m.drug_class.value for m in got.facts.medications] == ["metformin", "other"]
    assert got.warnings == ("Medication/gone could not be read (FhirNotFound)",)


def test_prior_reports_are_ours_only_and_inform_the_advice_context(kit: Any) -> None:
    gw = kit.ServerLikeGateway()
    rec = kit.make_record(gw)
    gw.create(our_report(rec.patient_ref, "2024-05-01"))
    gw.create(our_report(rec.patient_ref, "2025-12-24"))
    gw.create(our_report(rec.patient_ref, "2026-01-10", ours=False))
    got = read_record(gw, rec.patient_ref, TODAY)
    assert [str(r.effective) for r in got.prior_reports] == ["2024-05-01", "2025-12-24"]
    last = got.last_report
    assert last is not None and last.conclusion_codes == ("no-referable-dr",)
    assert last.status == "final" and last.issued is not None
    assert advice_context(got).last_eye_exam == date(2025, 12, 24)


def procedure(patient: str, code: str, performed: str, status: str = "completed") -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "status": status,
        "code": {"coding": [{"system": codes.SNOMED, "code": code}]},
        "subject": {"reference": patient},
        "performedDateTime": performed,
    }


@pytest.mark.parametrize("gateway_kind", ["server-like", "strict"])
def test_procedures_reach_the_facts_eye_exam_and_end_of_life_care(
    kit: Any, gateway_kind: str
) -> None:
    gw = kit.ServerLikeGateway() if gateway_kind == "server-like" else InMemoryFhirGateway()
    rec = kit.make_record(gw)
    exam = gw.create(procedure(rec.patient_ref, "722161008", "2025-10-14")).reference
    hospice = gw.create(procedure(rec.patient_ref, "385763009", "2026-01-20", "in-progress"))
    gw.create(procedure("Patient/someone-else", "722161008", "2026-02-01"))
    got = read_record(gw, rec.patient_ref, TODAY)
    eye = got.facts.last_eye_exam
    assert eye is not None and (eye.source, eye.kind, eye.date) == (
        exam,
        "Procedure",
        date(2025, 10, 14),
    )
    life = got.facts.limited_life_expectancy
    assert life is not None and life.source == hospice.reference
    assert got.warnings == ()


def test_build_record_from_prefetched_resources_keeps_only_the_patient(kit: Any) -> None:
    patient = {"resourceType": "Patient", "id": "p1", "birthDate": "1970-01-01"}
    mine = our_report("Patient/p1", "2025-06-01")
    mine["id"] = "r1"
    theirs = our_report("Patient/p2", "2025-07-01")
    theirs["id"] = "r2"
    got = build_record("p1", patient, [mine, theirs, patient], TODAY)
    assert got.patient_ref == "Patient/p1" and got.facts.age_years == 56
    assert [r.reference for r in got.prior_reports] == ["DiagnosticReport/r1"]
    assert got.resources == (mine, theirs)


def test_patient_refs() -> None:
    assert parse_patient_ref("123") == parse_patient_ref(" Patient/123 ") == "Patient/123"
    for bad in ("", "Patient/", "Observation/1", "Patient/a/b", "a b", "x" * 65):
        with pytest.raises(InvalidRequest):
            parse_patient_ref(bad)


def test_unknown_patient(kit: Any) -> None:
    with pytest.raises(PatientNotFound, match="Patient/nobody was not found"):
        read_record(kit.ServerLikeGateway(), "nobody", TODAY)
