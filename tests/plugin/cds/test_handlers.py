"""The patient-view handler on hand-made prefetch data: which patient, the FHIR server
allow-list, and what bad prefetch data answers."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from cds_hooks.errors import CdsServiceError
from cds_hooks.models import CdsRequest
from cds_hooks.prefetch import PrefetchData, PrefetchItem, PrefetchStatus
from plugin.cds.grading import HookCall, ImageState
from plugin.cds.handlers import HandlerOptions, PatientViewHandler

TODAY = date(2026, 3, 2)
SERVER = "https://ehr.example.org/fhir"


class RecordingGrading:
    """Stands in for CdsGrading: records what the handler asks for."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[Any], HookCall]] = []

    def assess(self, units: list[Any], call: HookCall) -> ImageState:
        self.calls.append((units, call))
        return ImageState()


def request(**extra: Any) -> CdsRequest:
    body = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/dr1", "patientId": "p1"},
        "fhirServer": SERVER,
        "fhirAuthorization": {
            "access_token": "tok",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/*.read",
            "subject": "deepdr",
        },
        **extra,
    }
    return CdsRequest.model_validate(body)


def data(patient: Any, *resources: dict[str, Any]) -> PrefetchData:
    items = {
        "patient": PrefetchItem(
            "patient",
            PrefetchStatus.NO_DATA if patient is None else PrefetchStatus.PROVIDED,
            patient,
        ),
        "media": PrefetchItem(
            "media",
            PrefetchStatus.PROVIDED,
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [{"resource": r} for r in resources],
            },
        ),
    }
    return PrefetchData(items)


def handler(grading: RecordingGrading, **options: Any) -> PatientViewHandler:
    return PatientViewHandler(
        grading,  # type: ignore[arg-type]
        HandlerOptions(**options),
        "deepdr-patient-view",
        today=lambda: TODAY,
    )


def photo_media(kit: Any) -> dict[str, Any]:
    return {**kit.media("Patient/p1", "right", kit.photo(20)), "id": "m1"}


def test_the_patient_may_come_as_a_resource_or_in_a_bundle(kit: Any) -> None:
    grading = RecordingGrading()
    patient = {"resourceType": "Patient", "id": "p1"}
    as_bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": patient}]}
    for sent in (patient, as_bundle):
        assert handler(grading).handle(request(), data(sent, photo_media(kit))).cards == []
    assert [len(units) for units, _ in grading.calls] == [1, 1]
    call = grading.calls[0][1]
    assert call.fhir_server == SERVER and call.access_token == "tok"
    assert call.actor == "Practitioner/dr1" and call.patient_ref == "Patient/p1"


def test_no_such_patient_means_no_cards() -> None:
    grading = RecordingGrading()
    assert handler(grading).handle(request(), data(None)).cards == []
    assert grading.calls == []


def test_someone_elses_patient_is_a_400() -> None:
    with pytest.raises(CdsServiceError) as caught:
        handler(RecordingGrading()).handle(request(), data({"resourceType": "Patient", "id": "p2"}))
    assert caught.value.http_status == 400
    assert "p2" not in caught.value.reason


def test_a_server_off_the_allow_list_is_never_contacted(kit: Any) -> None:
    grading = RecordingGrading()
    patient = {"resourceType": "Patient", "id": "p1"}
    allowed = handler(grading, allowed_fhir_servers=frozenset({SERVER + "/"}))
    blocked = handler(grading, allowed_fhir_servers=frozenset({"https://other.example.org/fhir"}))
    allowed.handle(request(), data(patient, photo_media(kit)))
    blocked.handle(request(), data(patient, photo_media(kit)))
    assert [call.fhir_server for _, call in grading.calls] == [SERVER, None]
