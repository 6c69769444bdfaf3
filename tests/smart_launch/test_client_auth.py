"""Client authentication at the token endpoint: public, client_secret_basic, private_key_jwt
(RS384 and ES384 per SMART client-confidential-asymmetric), and the JWKS we publish."""

from __future__ import annotations

import base64

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from smart_launch.client_auth import (
    CLIENT_ASSERTION_TYPE,
    AsymmetricClient,
    PublicClient,
    SymmetricClient,
)
from smart_launch.errors import ClientAuthError
from smart_launch.keys import SigningKey, jwks_document

TOKEN_URL = "https://ehr.example.org/auth/token"


def test_public_client_sends_only_its_id() -> None:
    auth = PublicClient("app").token_request_auth(TOKEN_URL)
    assert auth.form == {"client_id": "app"} and auth.headers == {}


def test_client_secret_basic_encodes_both_parts() -> None:
    auth = SymmetricClient("my app", "s3cr:t&").token_request_auth(TOKEN_URL)
    assert auth.form == {}  # SMART: omit client_id for confidential apps
    scheme, value = auth.headers["Authorization"].split(" ")
    assert scheme == "Basic"
    assert base64.b64decode(value).decode() == "my%20app:s3cr%3At%26"
    assert "s3cr" not in repr(SymmetricClient("app", "s3cr:t&"))


def test_empty_secret_is_a_configuration_error() -> None:
    with pytest.raises(ClientAuthError):
        SymmetricClient("app", "").token_request_auth(TOKEN_URL)


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
def test_private_key_jwt_assertion_follows_smart(alg: str) -> None:
    key = SigningKey.generate(alg)  # type: ignore[arg-type]
    client = AsymmetricClient(
        "backend-1", key, jku="https://app.example.org/jwks", clock=lambda: 1_000_000.0
    )
    auth = client.token_request_auth(TOKEN_URL)
    assert auth.form["client_assertion_type"] == CLIENT_ASSERTION_TYPE
    assert "client_id" not in auth.form
    public = KeySet.import_key_set(jwks_document([key]))  # type: ignore[arg-type]
    token = jwt.decode(auth.form["client_assertion"], public, algorithms=[alg])
    assert token.header == {
        "alg": alg,
        "kid": key.kid,
        "typ": "JWT",
        "jku": "https://app.example.org/jwks",
    }
    claims = token.claims
    assert claims["iss"] == claims["sub"] == "backend-1"
    assert claims["aud"] == TOKEN_URL
    assert 0 < claims["exp"] - 1_000_000 <= 300
    assert len(claims["jti"]) >= 32


def test_each_assertion_has_a_fresh_jti() -> None:
    client = AsymmetricClient("c", SigningKey.generate("ES384"))
    first = jwt.decode(
        client.client_assertion(TOKEN_URL), client.signing_key.private_key, algorithms=["ES384"]
    )
    second = jwt.decode(
        client.client_assertion(TOKEN_URL), client.signing_key.private_key, algorithms=["ES384"]
    )
    assert first.claims["jti"] != second.claims["jti"]
    assert "jku" not in first.header


@pytest.mark.parametrize("lifetime", [0, 301, -1])
def test_assertion_lifetime_is_capped_at_five_minutes(lifetime: int) -> None:
    with pytest.raises(ClientAuthError):
        AsymmetricClient("c", SigningKey.generate("ES384"), lifetime_s=lifetime)


def test_jwks_document_is_public_only_with_kid_and_alg() -> None:
    keys = [SigningKey.generate("RS384"), SigningKey.generate("ES384")]
    document = jwks_document(keys)
    assert [k["alg"] for k in document["keys"]] == ["RS384", "ES384"]
    for jwk, key in zip(document["keys"], keys, strict=True):
        assert jwk["kid"] == key.kid and jwk["use"] == "sig"
        assert "d" not in jwk and "p" not in jwk
    assert {"n", "e"} <= set(document["keys"][0]) and {"crv", "x", "y"} <= set(document["keys"][1])
    assert document["keys"][1]["crv"] == "P-384"


def test_duplicate_kids_are_refused() -> None:
    key = SigningKey.generate("ES384")
    with pytest.raises(ClientAuthError):
        jwks_document([key, SigningKey.from_jwk(key.private_jwk())])


def test_keys_load_from_pem_and_jwk_and_keep_their_kid() -> None:
    key = SigningKey.generate("RS384")
    pem = key.private_key.as_pem(private=True)
    assert SigningKey.from_pem(pem, "RS384").kid == key.kid
    assert SigningKey.from_jwk(key.private_jwk()).kid == key.kid
    assert "PRIVATE" not in repr(key) and key.kid in repr(key)


@pytest.mark.parametrize(("alg", "other"), [("RS384", "ES384"), ("ES384", "RS384")])
def test_key_type_must_match_the_algorithm(alg: str, other: str) -> None:
    key = SigningKey.generate(other)  # type: ignore[arg-type]
    with pytest.raises(ClientAuthError):
        SigningKey(key.private_key, alg)  # type: ignore[arg-type]


def test_public_key_cannot_sign() -> None:
    key = SigningKey.generate("ES384")
    with pytest.raises(ClientAuthError):
        SigningKey.from_jwk(key.public_jwk())


def test_garbage_pem_is_a_clear_error() -> None:
    with pytest.raises(ClientAuthError, match="PEM"):
        SigningKey.from_pem("not a key", "RS384")
