"""Over real HTTP: the CDS Client JWT checks. Every defect the local CDS Client can craft
is refused with 401 before the service runs; ES384 and RS384 with the right key pass."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from plugin.local_servers.cds_client import JwtFlaw, LocalCdsClient, PrefetchMode

if TYPE_CHECKING:  # test modules cannot import conftest at run time (importlib mode)
    from tests.cds_hooks.conftest import BodyMaker, CdsTestServer, SeededPatients

pytestmark = pytest.mark.integration


def _reason(response: Any) -> str:
    text: str = response.json()["issue"][0]["details"]["text"]
    return text


@pytest.mark.parametrize(
    ("flaw", "reason"),
    [
        (JwtFlaw.ALG_NONE, "unsigned tokens are not accepted"),
        (JwtFlaw.HS256, "alg not allowed (ES384 or RS384 only)"),
        (JwtFlaw.RS256, "alg not allowed (ES384 or RS384 only)"),
        (JwtFlaw.WRONG_AUD, "wrong audience"),
        (JwtFlaw.EXPIRED, "token expired"),
        (JwtFlaw.IAT_IN_FUTURE, "iat is in the future"),
        (JwtFlaw.LIFETIME_TOO_LONG, "token lifetime too long"),
        (JwtFlaw.UNKNOWN_ISS, "untrusted issuer"),
        (JwtFlaw.UNKNOWN_KID, "unknown kid"),
        (JwtFlaw.BAD_SIGNATURE, "bad signature"),
        (JwtFlaw.MISSING_KID, "kid header required"),
        (JwtFlaw.WRONG_TYP, "typ header must be JWT"),
        (JwtFlaw.MISSING_JTI, "jti claim required"),
        (JwtFlaw.MISSING_EXP, "exp claim required"),
        (JwtFlaw.JKU_NOT_ALLOWED, "jku not allowed for this issuer"),
    ],
)
def test_every_jwt_defect_is_refused_with_401(
    cds_server: CdsTestServer,
    cds_client: LocalCdsClient,
    seeded: SeededPatients,
    make_body: BodyMaker,
    flaw: JwtFlaw,
    reason: str,
) -> None:
    body = make_body(seeded.with_bp, PrefetchMode.PRESENT)
    seen = len(cds_server.handler.seen)
    r = cds_client.call("bp-review", body, flaw=flaw)
    assert r.status_code == 401
    assert _reason(r) == reason
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    assert len(cds_server.handler.seen) == seen
    assert cds_client.discover(flaw=flaw).status_code == 401
    # The same request with a sound token goes through: the defect was the only problem.
    assert cds_client.call("bp-review", body).status_code == 200


def test_missing_authorization_header_is_401(
    cds_server: CdsTestServer,
    cds_client: LocalCdsClient,
    seeded: SeededPatients,
    make_body: BodyMaker,
) -> None:
    body = make_body(seeded.with_bp, PrefetchMode.PRESENT)
    r = cds_client.call("bp-review", body, authenticate=False)
    assert r.status_code == 401
    assert _reason(r) == "bearer token required"
    r = cds_client.call("bp-review", body, token="not-a-jwt")
    assert r.status_code == 401 and _reason(r) == "malformed token"


def test_a_replayed_jwt_is_refused(
    cds_server: CdsTestServer,
    cds_client: LocalCdsClient,
    seeded: SeededPatients,
    make_body: BodyMaker,
) -> None:
    body = make_body(seeded.with_bp, PrefetchMode.PRESENT)
    token = cds_client.sign(cds_client.url("/cds-services/bp-review"))
    assert cds_client.call("bp-review", body, token=token).status_code == 200
    again = cds_client.call("bp-review", body, token=token)
    assert again.status_code == 401
    assert _reason(again) == "token replayed"


def test_a_token_for_one_service_is_refused_by_another(
    cds_server: CdsTestServer, cds_client: LocalCdsClient, seeded: SeededPatients
) -> None:
    body = cds_client.hook_request("patient-view", {"userId": "Practitioner/1", "patientId": "1"})
    token = cds_client.sign(cds_client.url("/cds-services/bp-review"))
    r = cds_client.call("always-fails", body, token=token)
    assert r.status_code == 401 and _reason(r) == "wrong audience"


def test_jku_on_the_allow_list_is_honoured(
    cds_server: CdsTestServer, cds_client: LocalCdsClient
) -> None:
    url = cds_client.url("/cds-services")
    token = cds_client.sign(url, jku=cds_client.jwks_url)
    r = cds_client.http.get(url, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200


def test_a_rotated_in_key_is_picked_up_by_refreshing_the_jwks(
    cds_server: CdsTestServer, cds_client: LocalCdsClient
) -> None:
    url = cds_client.url("/cds-services")
    assert cds_client.discover().status_code == 200  # the service holds the current JWK Set
    before = cds_server.jwks.fetch_count(cds_client.jwks_url)
    key = cds_client.rotate_in_key()
    token = cds_client.sign(url, key=key)
    r = cds_client.http.get(url, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert cds_server.jwks.fetch_count(cds_client.jwks_url) == before + 1
