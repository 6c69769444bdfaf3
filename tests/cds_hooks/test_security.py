"""CdsJwtVerifier unit tests: a fixed clock, keys made here, static and fake remote JWKS."""

from __future__ import annotations

import base64
import json
import warnings
from typing import Any

import pytest
from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OctKey, RSAKey
from pydantic import ValidationError

from cds_hooks.errors import CdsAuthError
from cds_hooks.jwks import JwksError
from cds_hooks.replay import InMemoryJtiCache
from cds_hooks.security import CdsJwtVerifier, ImportedKeys, JwtPolicy, TrustedIssuer

NOW = 1_700_000_000.0
ISS = "https://ehr.example.org/"
AUD = "https://cds.example.org/cds-services/svc"
JWKS_URL = "https://ehr.example.org/jwks.json"
EC = ECKey.generate_key("P-384", private=True)
RSA = RSAKey.generate_key(2048, private=True)
with warnings.catch_warnings():  # joserfc rightly warns about this key: it is the point
    warnings.simplefilter("ignore", SecurityWarning)
    SMALL_RSA = RSAKey.generate_key(1024, private=True)


def _public(key: ECKey | RSAKey, kid: str, **extra: Any) -> dict[str, Any]:
    return {**key.as_dict(private=False), "kid": kid, **extra}


STATIC = {"keys": [_public(EC, "ec1", alg="ES384", use="sig"), _public(RSA, "rsa1")]}


class FakeJwks:
    """A JwksSource serving a mutable key list; counts refresh requests."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.served = keys
        self.held = list(keys)
        self.calls: list[tuple[str, bool]] = []
        self.fail = False

    def keys(self, url: str, *, refresh: bool = False) -> list[dict[str, Any]]:
        self.calls.append((url, refresh))
        if self.fail:
            raise JwksError("down")
        if refresh:
            self.held = list(self.served)
        return self.held


def _claims(**overrides: Any) -> dict[str, Any]:
    claims = {"iss": ISS, "aud": AUD, "iat": int(NOW), "exp": int(NOW) + 300, "jti": "j-1"}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _token(
    claims: dict[str, Any] | None = None,
    *,
    key: ECKey | RSAKey | OctKey = EC,
    alg: str = "ES384",
    kid: str | None = "ec1",
    **header: Any,
) -> str:
    head = {"alg": alg, "typ": "JWT", **header}
    if kid is not None:
        head["kid"] = kid
    head = {k: v for k, v in head.items() if v is not None}
    return jwt.encode(head, claims or _claims(), key, algorithms=[alg], default_type=None)


def _verifier(
    issuers: tuple[TrustedIssuer, ...] | None = None,
    jwks: FakeJwks | None = None,
    **policy: Any,
) -> CdsJwtVerifier:
    issuers = issuers or (TrustedIssuer(iss=ISS, jwks=STATIC),)
    return CdsJwtVerifier(
        JwtPolicy(issuers=issuers, **policy),
        replay_cache=InMemoryJtiCache(clock=lambda: NOW),
        jwks_source=jwks or FakeJwks([]),
        clock=lambda: NOW,
    )


def _refused(verifier: CdsJwtVerifier, token: str | None, audience: str = AUD) -> str:
    header = None if token is None else f"Bearer {token}"
    with pytest.raises(CdsAuthError) as info:
        verifier.authenticate(header, audience)
    assert info.value.http_status == 401
    return info.value.reason


def test_es384_and_rs384_with_the_right_key_pass() -> None:
    v = _verifier()
    client = v.authenticate(f"Bearer {_token(_claims(tenant='t1', sub='ehr'))}", AUD)
    assert (client.iss, client.kid, client.alg, client.tenant, client.sub) == (
        ISS,
        "ec1",
        "ES384",
        "t1",
        "ehr",
    )
    rsa = _token(_claims(jti="j-2"), key=RSA, alg="RS384", kid="rsa1")
    assert v.authenticate(f"bearer {rsa}", AUD).alg == "RS384"


def test_audience_may_be_a_list_but_must_hold_the_exact_url() -> None:
    v = _verifier()
    v.authenticate(f"Bearer {_token(_claims(aud=['x', AUD]))}", AUD)
    assert _refused(v, _token(_claims(aud=AUD + "/", jti="j2"))) == "wrong audience"
    assert _refused(v, _token(_claims(aud=[], jti="j3"))) == "wrong audience"
    assert _refused(v, _token(_claims(jti="j4")), audience=AUD + "/feedback") == "wrong audience"


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "bearer token required"),
        ("", "bearer token required"),
        ("a.b", "malformed token"),
        ("x" * 9000, "malformed token"),
        ("!!!.!!!.!!!", "malformed token"),
        (_unsigned({"alg": "none", "kid": "ec1", "typ": "JWT"}, _claims()), "unsigned tokens"),
        (_unsigned({"alg": "NONE", "kid": "ec1", "typ": "JWT"}, _claims()), "unsigned tokens"),
        (_token(key=OctKey.import_key(b"k" * 32), alg="HS256"), "alg not allowed"),
        (_token(key=OctKey.import_key(b"k" * 48), alg="HS384"), "alg not allowed"),
        (_token(key=RSA, alg="RS256", kid="rsa1"), "alg not allowed"),
        (_token(key=RSA, alg="PS384", kid="rsa1"), "alg not allowed"),
        (_unsigned({"kid": "ec1", "typ": "JWT"}, _claims()), "alg header required"),
        (_token(kid=None), "kid header required"),
        (_token(typ=None), "typ header must be JWT"),
        (_token(typ="at+jwt"), "typ header must be JWT"),
        (
            _unsigned(
                {"alg": "ES384", "kid": "ec1", "typ": "JWT", "crit": ["x"], "x": 1}, _claims()
            )
            + "AAAA",
            "crit header not supported",
        ),
        (_token(_claims(iss="https://other.example/")), "untrusted issuer"),
        (_token(_claims(iss=None)), "untrusted issuer"),
        (_token(_claims(iss=[ISS])), "untrusted issuer"),
        (_token(_claims(aud={"url": AUD})), "wrong audience"),
        (_token(kid="nobody"), "unknown kid"),
        (_token(key=ECKey.generate_key("P-384", private=True)), "bad signature"),
        (_token(key=RSA, alg="RS384", kid="ec1"), "unknown kid"),  # kid of the wrong type
        (_token(_claims(exp=int(NOW) - 31, iat=int(NOW) - 100)), "token expired"),
        (_token(_claims(iat=int(NOW) + 31, exp=int(NOW) + 200)), "iat is in the future"),
        (_token(_claims(exp=int(NOW) + 3600)), "token lifetime too long"),
        (_token(_claims(iat=int(NOW) - 400, exp=int(NOW) + 10)), "token lifetime too long"),
        (_token(_claims(exp=None)), "exp claim required"),
        (_token(_claims(exp="soon")), "exp claim required"),
        (_token(_claims(iat=None)), "iat claim required"),
        (_token(_claims(jti=None)), "jti claim required"),
        (_token(_claims(jti="")), "jti claim required"),
        (_token(_claims(nbf=int(NOW) + 100)), "token not yet valid"),
        (_token(jku="https://ehr.example.org/other.json"), "jku not allowed for this issuer"),
    ],
)
def test_defects_are_refused(token: str | None, reason: str) -> None:
    assert _refused(_verifier(), token).startswith(reason)


def test_skew_is_tolerated_within_the_configured_bound() -> None:
    v = _verifier(clock_skew_s=30)
    v.authenticate(
        f"Bearer {_token(_claims(iat=int(NOW) - 20, exp=int(NOW) + 300, jti='j0'))}", AUD
    )
    v.authenticate(f"Bearer {_token(_claims(exp=int(NOW) - 29, iat=int(NOW) - 200))}", AUD)
    v.authenticate(f"Bearer {_token(_claims(iat=int(NOW) + 29, jti='j2'))}", AUD)
    strict = _verifier(clock_skew_s=0)
    assert _refused(strict, _token(_claims(iat=int(NOW) + 1))) == "iat is in the future"


def test_replay_is_refused_but_the_same_jti_from_another_issuer_is_not() -> None:
    other = "https://other-ehr.example.org/"
    v = _verifier((TrustedIssuer(iss=ISS, jwks=STATIC), TrustedIssuer(iss=other, jwks=STATIC)))
    token = _token()
    v.authenticate(f"Bearer {token}", AUD)
    assert _refused(v, token) == "token replayed"
    v.authenticate(f"Bearer {_token(_claims(iss=other))}", AUD)


def test_a_refused_token_does_not_use_up_its_jti() -> None:
    v = _verifier()
    assert _refused(v, _token(_claims(aud="https://elsewhere"))) == "wrong audience"
    v.authenticate(f"Bearer {_token()}", AUD)


def test_remote_jwks_refreshes_once_on_an_unknown_kid() -> None:
    jwks = FakeJwks([_public(EC, "ec1")])
    v = _verifier((TrustedIssuer(iss=ISS, jwks_url=JWKS_URL),), jwks)
    v.authenticate(f"Bearer {_token()}", AUD)
    assert jwks.calls == [(JWKS_URL, False)]
    rotated = ECKey.generate_key("P-384", private=True)
    jwks.served = [_public(EC, "ec1"), _public(rotated, "ec2")]
    v.authenticate(f"Bearer {_token(_claims(jti='j2'), key=rotated, kid='ec2')}", AUD)
    assert jwks.calls[1:] == [(JWKS_URL, False), (JWKS_URL, True)]
    assert _refused(v, _token(_claims(jti="j3"), kid="ec9")) == "unknown kid"


def test_unreachable_jwks_is_a_401() -> None:
    jwks = FakeJwks([])
    jwks.fail = True
    v = _verifier((TrustedIssuer(iss=ISS, jwks_url=JWKS_URL),), jwks)
    assert _refused(v, _token()) == "issuer keys unavailable"


def test_allow_listed_jku_is_used_and_only_that_url() -> None:
    jku = "https://ehr.example.org/rotating-jwks.json"
    jwks = FakeJwks([_public(EC, "ec1")])
    v = _verifier((TrustedIssuer(iss=ISS, allowed_jku=frozenset({jku})),), jwks)
    v.authenticate(f"Bearer {_token(jku=jku)}", AUD)
    assert {url for url, _ in jwks.calls} == {jku}
    assert _refused(v, _token(_claims(jti="j2"))) == "jku header required for this issuer"
    assert _refused(v, _token(_claims(jti="j3"), jku=jku + "?x")).startswith("jku not allowed")


def test_keys_restricted_to_another_use_or_alg_or_too_small_are_not_used() -> None:
    keys = {
        "keys": [
            _public(EC, "enc", use="enc"),
            _public(EC, "es512", alg="ES512"),
            _public(EC, "noverify", key_ops=["sign"]),
            _public(SMALL_RSA, "small"),
        ]
    }
    v = _verifier((TrustedIssuer(iss=ISS, jwks=keys),))
    for kid, key, alg in (("enc", EC, "ES384"), ("es512", EC, "ES384"), ("noverify", EC, "ES384")):
        assert _refused(v, _token(_claims(jti=kid), key=key, alg=alg, kid=kid)) == "unknown kid"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        small = _token(_claims(jti="s"), key=SMALL_RSA, alg="RS384", kid="small")
    assert _refused(v, small) == "unknown kid"


def test_policy_validation() -> None:
    with pytest.raises(ValidationError, match="subset"):
        JwtPolicy(issuers=(), algorithms=frozenset({"RS256"}))
    with pytest.raises(ValidationError, match="needs jwks_url, jwks or allowed_jku"):
        TrustedIssuer(iss=ISS)
    with pytest.raises(ValidationError, match="https"):
        TrustedIssuer(iss=ISS, jwks_url="http://ehr.example.org/jwks")
    TrustedIssuer(iss=ISS, jwks_url="http://127.0.0.1:8080/jwks")  # loopback is fine
    with pytest.raises(ValidationError, match="public keys only"):
        TrustedIssuer(iss=ISS, jwks={"keys": [EC.as_dict(private=True)]})
    with pytest.raises(ValidationError, match="once"):
        JwtPolicy(issuers=(TrustedIssuer(iss=ISS, jwks=STATIC),) * 2)
    JwtPolicy(issuers=(), algorithms=frozenset({"ES384"}))


def test_imported_keys_are_reused_and_never_outlive_the_jwks_that_holds_them() -> None:
    jwks = FakeJwks([_public(EC, "ec1")])
    v = _verifier((TrustedIssuer(iss=ISS, jwks_url=JWKS_URL),), jwks)
    for i in range(5):
        v.authenticate(f"Bearer {_token(_claims(jti=f'a{i}'))}", AUD)
    assert v.imported_keys.imports == 1  # one JWK, imported once for five calls
    # The client's JWK Set changes under the same kid (its cache expired and was fetched):
    # the new key verifies at once, the old one no longer does.
    replacement = ECKey.generate_key("P-384", private=True)
    jwks.held = [_public(replacement, "ec1")]
    v.authenticate(f"Bearer {_token(_claims(jti='b1'), key=replacement)}", AUD)
    assert _refused(v, _token(_claims(jti="b2"))) == "bad signature"
    assert v.imported_keys.imports == 2
    # An unknown kid still asks the source for a fresh copy (rotation to a new kid).
    calls = len(jwks.calls)
    rotated = ECKey.generate_key("P-384", private=True)
    jwks.served = [_public(replacement, "ec1"), _public(rotated, "ec2")]
    v.authenticate(f"Bearer {_token(_claims(jti='c1'), key=rotated, kid='ec2')}", AUD)
    assert jwks.calls[calls:] == [(JWKS_URL, False), (JWKS_URL, True)]


def test_the_imported_key_cache_is_bounded() -> None:
    cache = ImportedKeys(max_entries=2)
    first, second, third = (_public(EC, f"k{i}") for i in range(3))
    for public in (first, second, first, third):  # first is used again: second goes
        assert cache.load(public) is not None
    assert cache.imports == 3
    cache.load(first)
    assert cache.imports == 3
    cache.load(second)
    assert cache.imports == 4
    assert cache.load(_public(SMALL_RSA, "small")) is None  # unusable keys are not served
