"""Over real HTTP: discovery and prefetch handling (present / missing / null /
OperationOutcome / 412). The local CDS Client fills prefetch from the real FHIR server, and
the toy service fetches what is missing from it too."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from cds_hooks.cards import validate_response
from cds_hooks.prefetch import PrefetchStatus
from plugin.local_servers.cds_client import LocalCdsClient, PrefetchMode

if TYPE_CHECKING:  # test modules cannot import conftest at run time (importlib mode)
    from tests.cds_hooks.conftest import BodyMaker, CdsTestServer, SeededPatients

pytestmark = pytest.mark.integration


def _reason(response: Any) -> str:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    text: str = body["issue"][0]["details"]["text"]
    return text


def test_discovery_lists_services_per_spec(
    cds_server: CdsTestServer, cds_client: LocalCdsClient
) -> None:
    r = cds_client.discover()
    assert r.status_code == 200
    services = {s["id"]: s for s in r.json()["services"]}
    assert set(services) == {"bp-review", "always-fails", "order-echo"}
    bp = services["bp-review"]
    assert bp["hook"] == "patient-view"
    assert bp["title"] == "Blood pressure review (toy)"
    assert bp["prefetch"] == cds_server.bp_service.prefetch
    assert bp["usageRequirements"].startswith("Toy service")
    assert "prefetch" not in services["always-fails"]  # no empty objects on the wire
    assert "required_prefetch" not in bp and "requiredPrefetch" not in bp


def test_discovery_needs_a_jwt_unless_configured_open(
    cds_server: CdsTestServer, cds_client: LocalCdsClient
) -> None:
    r = cds_client.discover(authenticate=False)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert _reason(r) == "bearer token required"
    base = cds_client.cds_base_url
    try:
        cds_client.cds_base_url = f"{cds_server.base_url}/open"
        assert cds_client.discover(authenticate=False).status_code == 200
        assert cds_client.discover().status_code == 200  # a valid JWT is fine there too
    finally:
        cds_client.cds_base_url = base


def test_audience_is_the_public_url_behind_a_proxy(
    cds_server: CdsTestServer, cds_client: LocalCdsClient
) -> None:
    url = f"{cds_server.base_url}/proxied/cds-services"
    http = cds_client.http
    public = cds_client.sign("https://cds.example.org/deepdr/cds-services")
    assert http.get(url, headers={"Authorization": f"Bearer {public}"}).status_code == 200
    internal = cds_client.sign(url)
    r = http.get(url, headers={"Authorization": f"Bearer {internal}"})
    assert r.status_code == 401 and _reason(r) == "wrong audience"


@pytest.mark.parametrize("alg", ["ES384", "RS384"])
def test_prefetch_present_is_used_without_fetching(
    cds_server: CdsTestServer,
    cds_client: LocalCdsClient,
    seeded: SeededPatients,
    make_body: BodyMaker,
    alg: str,
) -> None:
    body = make_body(seeded.with_bp, PrefetchMode.PRESENT)
    assert set(body["prefetch"]) == {"patient", "bloodPressure", "practitioner"}
    fetched_before = len(cds_server.fetcher.urls)
    r = cds_client.call("bp-review", body, alg=alg)
    assert r.status_code == 200, r.text
    assert validate_response(r.json(), require_uuids=True) == []
    assert r.json()["cards"][0]["summary"] == "3 BP readings; latest 141/92 mmHg"
    data = cds_server.handler.seen[-1]
    assert {k: data.status(k) for k in data} == dict.fromkeys(
        ["patient", "bloodPressure", "practitioner"], PrefetchStatus.PROVIDED
    )
    assert len(cds_server.fetcher.urls) == fetched_before


def test_prefetch_missing_is_fetched_from_fhir_server_with_the_bearer_token(
    cds_server: CdsTestServer,
    cds_client: LocalCdsClient,
    seeded: SeededPatients,
    make_body: BodyMaker,
) -> None:
    body = make_body(seeded.with_bp, PrefetchMode.MISSING)
    assert body["prefetch"] == {}
    fetched_before = len(cds_server.fetcher.urls)
    r = cds_client.call("bp-review", body)
    assert r.status_code == 200, r.text
    assert r.json()["cards"][0]["summary"] == "3 BP readings; latest 141/92 mmHg"
    data = cds_server.handler.seen[-1]
    assert {k: data.status(k) for k in data} == dict.fromkeys(
        ["patient", "bloodPressure", "practitioner"], PrefetchStatus.FETCHED
    )
    assert data.resources("patient")[0]["id"] == seeded.with_bp
    assert data.resources("practitioner")[0]["id"] == seeded.practitioner
    new_urls = cds_server.fetcher.urls[fetched_before:]
    assert f"Patient/{seeded.with_bp}" in new_urls
    assert f"Practitioner/{seeded.practitioner}" in new_urls
    assert set(cds_server.fetcher.tokens[fetched_before:]) == {make_body.access_token}


def test_prefetch_null_means_no_data_and_nothing_is_fetched(
    cds_server: CdsTestServer,
    cds_client: LocalCdsClient,
    seeded: SeededPatients,
    make_body: BodyMaker,
) -> None:
    mode = {
        "patient": PrefetchMode.PRESENT,
        "bloodPressure": PrefetchMode.NULL,
        "practitioner": PrefetchMode.NULL,
    }
    # The patient HAS readings on the server: a null must still be taken at its word.
    body = make_body(seeded.with_bp, mode)
    fetched_before = len(cds_server.fetcher.urls)
    r = cds_client.call("bp-review", body)
    assert r.status_code == 200, r.text
    card = r.json()["cards"][0]
    assert card["summary"] == "No blood pressure on file: measure it today"
    assert card["suggestions"][0]["actions"][0]["resource"]["resourceType"] == "ServiceRequest"
    assert card["links"][0]["type"] == "smart"
    assert validate_response(r.json(), require_uuids=True) == []
    assert cds_server.handler.seen[-1].status("bloodPressure") is PrefetchStatus.NO_DATA
    assert len(cds_server.fetcher.urls) == fetched_before


def test_same_result_gives_the_same_card_uuid(
    cds_server: CdsTestServer,
    cds_client: LocalCdsClient,
    seeded: SeededPatients,
    make_body: BodyMaker,
) -> None:
    first = cds_client.call("bp-review", make_body(seeded.with_bp, PrefetchMode.PRESENT))
    again = cds_client.call("bp-review", make_body(seeded.with_bp, PrefetchMode.MISSING))
    other = cds_client.call("bp-review", make_body(seeded.without_bp, PrefetchMode.PRESENT))
    uuids = [r.json()["cards"][0]["uuid"] for r in (first, again, other)]
    assert uuids[0] == uuids[1] != uuids[2]


def test_a_search_with_no_match_arrives_as_null_and_gives_the_no_data_card(
    cds_server: CdsTestServer,
    cds_client: LocalCdsClient,
    seeded: SeededPatients,
    make_body: BodyMaker,
) -> None:
    body = make_body(seeded.without_bp, PrefetchMode.PRESENT)
    assert body["prefetch"]["bloodPressure"] is None  # 2.0: no data -> null
    r = cds_client.call("bp-review", body)
    assert r.status_code == 200, r.text
    assert r.json()["cards"][0]["indicator"] == "warning"


def test_prefetch_operation_outcome_falls_back_to_the_fhir_server(
    cds_server: CdsTestServer,
    cds_client: LocalCdsClient,
    seeded: SeededPatients,
    make_body: BodyMaker,
) -> None:
    mode = {
        "patient": PrefetchMode.PRESENT,
        "bloodPressure": PrefetchMode.OPERATION_OUTCOME,
        "practitioner": PrefetchMode.PRESENT,
    }
    body = make_body(seeded.with_bp, mode)
    assert body["prefetch"]["bloodPressure"]["resourceType"] == "OperationOutcome"
    r = cds_client.call("bp-review", body)
    assert r.status_code == 200, r.text
    assert r.json()["cards"][0]["summary"].startswith("3 BP readings")
    item = cds_server.handler.seen[-1]["bloodPressure"]
    assert item.status is PrefetchStatus.FETCHED
    assert item.note == "CDS Client reported an OperationOutcome"


def test_operation_outcome_without_fhir_access_leaves_an_optional_key_unavailable(
    cds_server: CdsTestServer,
    cds_client: LocalCdsClient,
    seeded: SeededPatients,
    make_body: BodyMaker,
) -> None:
    mode = {"patient": PrefetchMode.PRESENT, "bloodPressure": PrefetchMode.OPERATION_OUTCOME}
    body = make_body(seeded.with_bp, mode, with_fhir_access=False)
    r = cds_client.call("bp-review", body)
    assert r.status_code == 200, r.text
    data = cds_server.handler.seen[-1]
    assert data.status("patient") is PrefetchStatus.PROVIDED
    assert data.status("bloodPressure") is PrefetchStatus.UNAVAILABLE
    assert data.status("practitioner") is PrefetchStatus.UNAVAILABLE


@pytest.mark.parametrize("patient_mode", [PrefetchMode.MISSING, PrefetchMode.OPERATION_OUTCOME])
def test_required_prefetch_unobtainable_is_412(
    cds_server: CdsTestServer,
    cds_client: LocalCdsClient,
    seeded: SeededPatients,
    make_body: BodyMaker,
    patient_mode: PrefetchMode,
) -> None:
    mode = {"patient": patient_mode, "bloodPressure": PrefetchMode.PRESENT}
    body = make_body(seeded.with_bp, mode, with_fhir_access=False)
    seen = len(cds_server.handler.seen)
    r = cds_client.call("bp-review", body)
    assert r.status_code == 412
    assert _reason(r) == "required prefetch unavailable: patient"
    assert len(cds_server.handler.seen) == seen  # the handler never ran
