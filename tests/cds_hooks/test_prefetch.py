"""PrefetchResolver: present / null / OperationOutcome / missing keys, fetching through an
injected fetcher, 412 for required keys. Uses an in-memory fake fetcher."""

from __future__ import annotations

import threading
import uuid
from datetime import date
from typing import Any

import pytest

from cds_hooks.errors import FetchError, PrefetchUnavailable
from cds_hooks.models import CdsRequest
from cds_hooks.prefetch import PrefetchData, PrefetchItem, PrefetchResolver, PrefetchStatus
from cds_hooks.templates import parse_template

SERVER = "https://ehr.example.org/fhir"
TEMPLATES = {
    "patient": parse_template("Patient/{{context.patientId}}"),
    "labs": parse_template("Observation?patient=Patient/{{context.patientId}}&date=ge{{today()}}"),
    "role": parse_template("PractitionerRole?_id={{userPractitionerRoleId}}"),
}
PATIENT = {"resourceType": "Patient", "id": "p1"}
BUNDLE = {
    "resourceType": "Bundle",
    "type": "searchset",
    "entry": [
        {"resource": {"resourceType": "Observation", "id": "o1"}, "search": {"mode": "match"}},
        {"resource": {"resourceType": "Patient", "id": "p1"}, "search": {"mode": "include"}},
        {
            "resource": {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "warning", "code": "informational"}],
            },
            "search": {"mode": "outcome"},
        },
    ],
}
ERROR_OUTCOME = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "x"}]}


class FakeFetcher:
    def __init__(self, answers: dict[str, dict[str, Any] | None | Exception]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str, str | None]] = []
        self.threads: set[str] = set()

    def fetch(self, fhir_server: str, relative_url: str, access_token: str | None) -> Any:
        self.calls.append((fhir_server, relative_url, access_token))
        self.threads.add(threading.current_thread().name)
        answer = self.answers[relative_url]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _request(prefetch: dict[str, Any] | None = None, *, access: bool = True) -> CdsRequest:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "PractitionerRole/r1", "patientId": "p1"},
    }
    if access:
        body["fhirServer"] = SERVER
        body["fhirAuthorization"] = {
            "access_token": "tok",
            "token_type": "Bearer",
            "expires_in": 60,
            "scope": "user/*.read",
            "subject": "svc",
        }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return CdsRequest.model_validate(body)


URLS = {
    "Patient/p1": PATIENT,
    "Observation?patient=Patient/p1&date=ge2024-09-13": BUNDLE,
    "PractitionerRole?_id=r1": None,
}


def _resolver(fetcher: FakeFetcher | None, **kwargs: Any) -> PrefetchResolver:
    return PrefetchResolver(fetcher, today=lambda: date(2024, 9, 13), **kwargs)


def test_all_present_means_no_fetch() -> None:
    fetcher = FakeFetcher({})
    data = _resolver(fetcher).resolve(
        TEMPLATES, {"patient"}, _request({"patient": PATIENT, "labs": BUNDLE, "role": None})
    )
    assert [data.status(k) for k in ("patient", "labs", "role")] == [
        PrefetchStatus.PROVIDED,
        PrefetchStatus.PROVIDED,
        PrefetchStatus.NO_DATA,
    ]
    assert fetcher.calls == []
    assert data.resource("patient") == PATIENT
    assert data.resources("role") == []


def test_missing_keys_are_fetched_in_parallel_with_the_token() -> None:
    fetcher = FakeFetcher(dict(URLS))
    data = _resolver(fetcher).resolve(TEMPLATES, {"patient", "labs"}, _request())
    assert sorted(c[1] for c in fetcher.calls) == sorted(URLS)
    assert {c[0] for c in fetcher.calls} == {SERVER}
    assert {c[2] for c in fetcher.calls} == {"tok"}
    assert data.status("patient") is PrefetchStatus.FETCHED
    assert data.status("labs") is PrefetchStatus.FETCHED
    assert data.status("role") is PrefetchStatus.NO_DATA  # the server said: no such resource
    assert all(name.startswith("cds-prefetch") for name in fetcher.threads)


def test_resources_unpacks_searchsets_without_outcome_entries() -> None:
    data = _resolver(None).resolve(TEMPLATES, (), _request({"labs": BUNDLE}, access=False))
    assert [r["id"] for r in data.resources("labs")] == ["o1", "p1"]
    assert [r["id"] for r in data.resources("labs", "Observation")] == ["o1"]
    assert data.resources("patient") == []  # unavailable: no access, not required


def test_operation_outcome_in_prefetch_is_refetched_when_possible() -> None:
    fetcher = FakeFetcher(dict(URLS))
    data = _resolver(fetcher).resolve(
        TEMPLATES, {"patient"}, _request({"patient": ERROR_OUTCOME, "labs": BUNDLE, "role": None})
    )
    assert [c[1] for c in fetcher.calls] == ["Patient/p1"]
    item = data["patient"]
    assert item.status is PrefetchStatus.FETCHED
    assert item.note == "CDS Client reported an OperationOutcome"


def test_a_bundle_of_error_outcomes_counts_as_a_failed_prefetch() -> None:
    failed = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": ERROR_OUTCOME}]}
    with pytest.raises(PrefetchUnavailable):
        _resolver(None).resolve(TEMPLATES, {"labs"}, _request({"labs": failed}, access=False))


def test_required_key_unobtainable_raises_412() -> None:
    with pytest.raises(PrefetchUnavailable) as info:
        _resolver(FakeFetcher({})).resolve(
            TEMPLATES, {"patient", "labs"}, _request({"role": None}, access=False)
        )
    assert info.value.http_status == 412
    assert info.value.keys == ["labs", "patient"]


def test_null_for_a_required_key_is_an_answer_not_a_412() -> None:
    data = _resolver(None).resolve(
        TEMPLATES, {"patient"}, _request({"patient": None}, access=False)
    )
    assert data.status("patient") is PrefetchStatus.NO_DATA


def test_fetch_errors_leave_keys_unavailable() -> None:
    answers: dict[str, Any] = {**URLS, "Patient/p1": FetchError("HTTP 500")}
    data = _resolver(FakeFetcher(answers)).resolve(TEMPLATES, (), _request())
    assert data.status("patient") is PrefetchStatus.UNAVAILABLE
    assert data["patient"].note == "fetch failed"
    with pytest.raises(PrefetchUnavailable):
        _resolver(FakeFetcher(answers)).resolve(TEMPLATES, {"patient"}, _request())


@pytest.mark.parametrize(
    ("resolver_kwargs", "access", "note"),
    [
        ({}, False, "no fhirServer in the request"),
        ({"allowed_fhir_servers": ["https://other.example/fhir"]}, True, "allow-list"),
    ],
)
def test_when_fetching_is_not_possible(
    resolver_kwargs: dict[str, Any], access: bool, note: str
) -> None:
    fetcher = FakeFetcher(dict(URLS))
    data = _resolver(fetcher, **resolver_kwargs).resolve(TEMPLATES, (), _request(access=access))
    assert fetcher.calls == []
    assert all(data.status(k) is PrefetchStatus.UNAVAILABLE for k in data)
    assert note in (data["patient"].note or "")


def test_fhir_server_without_authorization_is_not_used_unless_allowed() -> None:
    request = _request(access=False).model_copy(update={"fhir_server": SERVER})
    fetcher = FakeFetcher(dict(URLS))
    data = _resolver(fetcher).resolve(TEMPLATES, (), request)
    assert fetcher.calls == [] and data["patient"].note == "no fhirAuthorization in the request"
    data = _resolver(fetcher, fetch_without_authorization=True).resolve(TEMPLATES, (), request)
    assert data.status("patient") is PrefetchStatus.FETCHED
    assert {c[2] for c in fetcher.calls} == {None}


def test_unrenderable_template_is_unavailable_not_fetched() -> None:
    request = _request()
    request = request.model_copy(
        update={"context": {"userId": "Practitioner/x", "patientId": "p1"}}
    )
    fetcher = FakeFetcher(dict(URLS))
    data = _resolver(fetcher).resolve(TEMPLATES, (), request)
    assert data.status("role") is PrefetchStatus.UNAVAILABLE
    assert "PractitionerRole?_id=r1" not in [c[1] for c in fetcher.calls]


def test_prefetch_data_mapping_behaviour() -> None:
    data = PrefetchData({"a": PrefetchItem("a", PrefetchStatus.PROVIDED, PATIENT)})
    assert "a" in data and list(data) == ["a"] and data["a"].obtained
    assert not PrefetchItem("b", PrefetchStatus.UNAVAILABLE).obtained


def test_odd_shapes_from_a_client_do_not_crash() -> None:
    odd = {
        "resourceType": "Bundle",
        "entry": [
            "not an entry",
            {"resource": {"resourceType": "OperationOutcome", "issue": ["x"]}, "search": "x"},
            {"resource": {"resourceType": "Observation", "id": "o"}},
        ],
    }
    data = _resolver(None).resolve(TEMPLATES, (), _request({"labs": odd}, access=False))
    assert data.status("labs") is PrefetchStatus.PROVIDED
    assert [r["resourceType"] for r in data.resources("labs")] == [
        "OperationOutcome",
        "Observation",
    ]
