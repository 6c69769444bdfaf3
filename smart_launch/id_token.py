"""OpenID Connect id_token validation (OIDC Core 3.1.3.7, as SMART's sso-openid-connect asks):
signature against the server's JWKS (jwks_uri from the SMART configuration, or the issuer's
openid-configuration), iss, aud/azp, exp/iat; then the `fhirUser` claim."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from smart_launch.discovery import SmartConfiguration
from smart_launch.errors import IdTokenInvalid, IssuerMismatch, SmartDiscoveryError
from smart_launch.http import Clock, get_json_object, require_secure_url

# SMART requires RS256 support for id_tokens; accept the other common asymmetric algorithms.
# Never "none" or HMAC: the app has no shared secret with the issuer to check them with.
ID_TOKEN_ALGS = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "PS384")
FHIR_USER_TYPES = ("Patient", "Practitioner", "PractitionerRole", "RelatedPerson", "Person")
LEEWAY_S = 60


class IdTokenValidator:
    """Validates id_tokens for one client. JWK Sets are cached per URL and fetched again once
    when a token names an unknown `kid` (key rotation)."""

    def __init__(
        self, http: httpx.Client, clock: Clock, *, allow_loopback_http: bool = True
    ) -> None:
        self._http = http
        self._clock = clock
        self._allow_loopback_http = allow_loopback_http
        self._jwks: dict[str, KeySet] = {}
        self._lock = threading.Lock()

    def validate(self, id_token: str, config: SmartConfiguration, client_id: str) -> dict[str, Any]:
        """Returns the verified claims, or raises IdTokenInvalid / IssuerMismatch."""
        header, unverified = _peek(id_token)  # unverified: only to pick the issuer and key
        unverified_iss = unverified.get("iss")
        expected_iss = config.issuer or unverified_iss
        if not isinstance(expected_iss, str) or not expected_iss:
            raise IdTokenInvalid("id_token has no issuer")
        jwks_uri = self._jwks_uri(config, expected_iss)
        kid = header.get("kid")
        keys = self._key_set(jwks_uri, refresh=False)
        if isinstance(kid, str) and not _has_kid(keys, kid):
            keys = self._key_set(jwks_uri, refresh=True)
        try:
            token = jwt.decode(id_token, keys, algorithms=list(ID_TOKEN_ALGS))
        except JoseError as exc:
            raise IdTokenInvalid(f"id_token signature check failed ({_code(exc)})") from exc
        claims = dict(token.claims)
        self._check_claims(claims, expected_iss, client_id)
        return claims

    def _check_claims(self, claims: dict[str, Any], issuer: str, client_id: str) -> None:
        if claims.get("iss") != issuer:
            raise IssuerMismatch("id_token iss does not match the server's issuer")
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self._clock()),
            leeway=LEEWAY_S,
            iss={"essential": True, "value": issuer},
            sub={"essential": True},
            aud={"essential": True, "value": client_id},
            exp={"essential": True},
            iat={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise IdTokenInvalid(f"id_token claims rejected ({_code(exc)})") from exc
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != client_id:
            raise IdTokenInvalid("id_token has several audiences and azp is not this client")

    def _jwks_uri(self, config: SmartConfiguration, issuer: str) -> str:
        if config.jwks_uri:
            return config.jwks_uri
        # No jwks_uri in the SMART configuration: the OIDC discovery document of the issuer
        # (SMART "steps for using an ID token"), whose own issuer must match.
        url = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
        require_secure_url(url, "issuer", allow_loopback_http=self._allow_loopback_http)
        status, document = get_json_object(self._http, url, "openid-configuration")
        if status != 200 or document is None:
            raise IdTokenInvalid(f"no openid-configuration for the issuer (HTTP {status})")
        if document.get("issuer") != issuer:
            raise IssuerMismatch("openid-configuration issuer does not match the id_token")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise IdTokenInvalid("openid-configuration has no jwks_uri")
        return jwks_uri

    def _key_set(self, jwks_uri: str, *, refresh: bool) -> KeySet:
        with self._lock:
            cached = self._jwks.get(jwks_uri)
        if cached is not None and not refresh:
            return cached
        require_secure_url(jwks_uri, "jwks_uri", allow_loopback_http=self._allow_loopback_http)
        try:
            status, document = get_json_object(self._http, jwks_uri, "JWKS")
        except SmartDiscoveryError as exc:
            raise IdTokenInvalid(f"cannot fetch the server's keys: {exc}") from exc
        if status != 200 or document is None:
            raise IdTokenInvalid(f"cannot fetch the server's keys (HTTP {status})")
        try:
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise IdTokenInvalid("the server's JWKS is not a valid JWK Set") from exc
        with self._lock:
            self._jwks[jwks_uri] = keys
        return keys


def _peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        compact = jws.extract_compact(token.encode("ascii"))
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeError) as exc:
        raise IdTokenInvalid("id_token is not a JWT") from exc
    if not isinstance(claims, dict):
        raise IdTokenInvalid("id_token payload is not a JSON object")
    return dict(compact.headers()), claims


def _code(exc: JoseError) -> str:
    return exc.error or type(exc).__name__


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys.keys)


def fhir_user_from_claims(claims: dict[str, Any]) -> str | None:
    """The `fhirUser` claim: a relative (`Practitioner/123`) or absolute URL of a Patient,
    Practitioner, PractitionerRole, RelatedPerson or Person. Anything else is refused."""
    value = claims.get("fhirUser")
    if value is None:
        return None
    if not isinstance(value, str):
        raise IdTokenInvalid("fhirUser claim is not a string")
    parts = value.rstrip("/").split("/")
    if len(parts) < 2 or parts[-2] not in FHIR_USER_TYPES or not parts[-1]:
        raise IdTokenInvalid("fhirUser claim is not a reference to a user resource")
    return value


def relative_fhir_user(fhir_user: str, fhir_base_url: str) -> str:
    """`Practitioner/123` for a fhirUser that is relative or lies under the FHIR base."""
    base = fhir_base_url.rstrip("/") + "/"
    if fhir_user.startswith(base):
        return fhir_user[len(base) :]
    return fhir_user  # already relative, or absolute on another server (kept absolute)
