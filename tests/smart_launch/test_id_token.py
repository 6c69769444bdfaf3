"""id_token validation: signature against the server JWKS, iss, aud/azp, exp, fhirUser."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey, KeySet, RSAKey

from smart_launch.discovery import SmartConfiguration
from smart_launch.errors import IdTokenInvalid, IssuerMismatch
from smart_launch.id_token import IdTokenValidator, fhir_user_from_claims, relative_fhir_user


def validator(fake_server: Any) -> IdTokenValidator:
    return IdTokenValidator(fake_server.http(), fake_server.clock)


def config(fake_server: Any) -> SmartConfiguration:
    return SmartConfiguration.model_validate(fake_server.config)


def test_valid_token_gives_claims_and_fhir_user(fake_server: Any) -> None:
    claims = validator(fake_server).validate(
        fake_server.id_token(), config(fake_server), fake_server.client_id
    )
    assert claims["sub"] == "clin-1"
    assert fhir_user_from_claims(claims) == f"{fake_server.iss}/Practitioner/clin-1"
    assert relative_fhir_user(fhir_user_from_claims(claims) or "", fake_server.iss) == (
        "Practitioner/clin-1"
    )


def test_rs384_and_es384_signatures_are_accepted(fake_server: Any) -> None:
    ec = ECKey.generate_key("P-384", parameters={"kid": "ec-1"})
    rsa = fake_server.key
    fake_server.key = ec  # the JWKS now serves the EC key

    def jwks(request: httpx.Request) -> httpx.Response:
        if str(request.url) == fake_server.jwks_url:
            return httpx.Response(200, json=KeySet([ec, rsa]).as_dict(private=False))
        return fake_server.handle(request)

    v = IdTokenValidator(httpx.Client(transport=httpx.MockTransport(jwks)), fake_server.clock)
    for key, alg in ((ec, "ES384"), (rsa, "RS384")):
        token = fake_server.id_token(key=key, alg=alg)
        assert v.validate(token, config(fake_server), fake_server.client_id)["sub"] == "clin-1"


def test_signature_by_another_key_is_refused(fake_server: Any) -> None:
    other = RSAKey.generate_key(2048, parameters={"kid": fake_server.key.kid})
    token = fake_server.id_token(key=other)
    with pytest.raises(IdTokenInvalid, match="signature"):
        validator(fake_server).validate(token, config(fake_server), fake_server.client_id)


def test_tampered_payload_is_refused(fake_server: Any) -> None:
    header, payload, signature = fake_server.id_token().split(".")
    forged = fake_server.id_token(sub="someone-else").split(".")[1]
    with pytest.raises(IdTokenInvalid):
        validator(fake_server).validate(
            f"{header}.{forged}.{signature}", config(fake_server), fake_server.client_id
        )
    assert payload != forged


def test_unsigned_token_is_refused(fake_server: Any) -> None:
    import base64
    import json

    def b64(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    token = f"{b64({'alg': 'none'})}.{b64({'iss': fake_server.issuer, 'sub': 'x'})}."
    with pytest.raises(IdTokenInvalid):
        validator(fake_server).validate(token, config(fake_server), fake_server.client_id)


@pytest.mark.parametrize(
    ("claims", "error"),
    [
        ({"aud": "another-app"}, IdTokenInvalid),
        ({"iss": "https://evil.example.org"}, IssuerMismatch),
        ({"exp": 1}, IdTokenInvalid),
        ({"sub": None}, IdTokenInvalid),
        ({"iat": None}, IdTokenInvalid),
        ({"aud": ["deepdr-app", "other"]}, IdTokenInvalid),  # several audiences, no azp
    ],
)
def test_bad_claims_are_refused(
    fake_server: Any, claims: dict[str, Any], error: type[Exception]
) -> None:
    token = fake_server.id_token(**claims)
    with pytest.raises(error):
        validator(fake_server).validate(token, config(fake_server), fake_server.client_id)


def test_several_audiences_with_matching_azp_pass(fake_server: Any) -> None:
    token = fake_server.id_token(aud=[fake_server.client_id, "other"], azp=fake_server.client_id)
    validator(fake_server).validate(token, config(fake_server), fake_server.client_id)


def test_expiry_uses_the_injected_clock_with_leeway(fake_server: Any) -> None:
    token = fake_server.id_token()
    v = validator(fake_server)
    fake_server.clock.advance(300 + 30)  # past exp, inside the 60 s leeway
    v.validate(token, config(fake_server), fake_server.client_id)
    fake_server.clock.advance(60)
    with pytest.raises(IdTokenInvalid):
        v.validate(token, config(fake_server), fake_server.client_id)


def test_jwks_is_cached_and_refetched_for_an_unknown_kid(fake_server: Any) -> None:
    v = validator(fake_server)
    v.validate(fake_server.id_token(), config(fake_server), fake_server.client_id)
    v.validate(fake_server.id_token(), config(fake_server), fake_server.client_id)
    jwks_calls = [r for r in fake_server.requests if str(r.url) == fake_server.jwks_url]
    assert len(jwks_calls) == 1
    rotated = RSAKey.generate_key(2048, parameters={"kid": "rotated"})
    fake_server.key = rotated
    v.validate(fake_server.id_token(), config(fake_server), fake_server.client_id)
    jwks_calls = [r for r in fake_server.requests if str(r.url) == fake_server.jwks_url]
    assert len(jwks_calls) == 2


def test_without_jwks_uri_the_openid_configuration_is_used(fake_server: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url) == f"{fake_server.issuer}/.well-known/openid-configuration":
            return httpx.Response(
                200, json={"issuer": fake_server.issuer, "jwks_uri": fake_server.jwks_url}
            )
        return fake_server.handle(request)

    cfg = config(fake_server).model_copy(update={"jwks_uri": None})
    v = IdTokenValidator(httpx.Client(transport=httpx.MockTransport(handler)), fake_server.clock)
    assert v.validate(fake_server.id_token(), cfg, fake_server.client_id)["sub"] == "clin-1"


def test_openid_configuration_with_another_issuer_is_refused(fake_server: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("openid-configuration"):
            return httpx.Response(200, json={"issuer": "https://evil", "jwks_uri": "https://e"})
        return fake_server.handle(request)

    cfg = config(fake_server).model_copy(update={"jwks_uri": None})
    v = IdTokenValidator(httpx.Client(transport=httpx.MockTransport(handler)), fake_server.clock)
    with pytest.raises(IssuerMismatch):
        v.validate(fake_server.id_token(), cfg, fake_server.client_id)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("Practitioner/123", True),
        ("https://ehr/fhir/PractitionerRole/9", True),
        ("Patient/1", True),
        ("Observation/1", False),
        ("Practitioner/", False),
        (42, False),
    ],
)
def test_fhir_user_claim_must_reference_a_user(value: object, ok: bool) -> None:
    if ok:
        assert fhir_user_from_claims({"fhirUser": value}) == value
    else:
        with pytest.raises(IdTokenInvalid):
            fhir_user_from_claims({"fhirUser": value})


def test_garbage_is_not_a_jwt(fake_server: Any) -> None:
    with pytest.raises(IdTokenInvalid, match="not a JWT"):
        validator(fake_server).validate("garbage", config(fake_server), fake_server.client_id)
