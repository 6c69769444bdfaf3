"""Authenticating CDS Clients (CDS Hooks 2.0, "Trusting CDS Clients").

Every call carries `Authorization: Bearer <JWT>` signed by the client. We check, in order:
header alg (ES384 or RS384 only: `none`, HMAC and everything else are refused here, before
any library sees the token), kid and typ "JWT"; the issuer is on our allow-list; the key
comes from that issuer's JWK Set (its configured URL, a static set, or a `jku` header URL
that is allow-listed for that issuer); the signature; then the claims: aud is exactly the
URL called, exp present and not past, lifetime at most `max_lifetime_s` (5 minutes), iat
present and not in the future beyond the allowed skew, and jti never seen before.

Failures raise CdsAuthError with a short fixed reason; the token itself is never logged.

Imported keys are cached by the JWK's own content (ImportedKeys): the same JWK is parsed
into a key object once, not on every call. Rotation is untouched: which JWK applies is
still decided on every call from the issuer's current JWK Set (an unknown kid still asks
for a refresh), and a JWK whose content changed is a different cache entry.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, Self

from joserfc import jwk, jws
from joserfc.errors import JoseError
from joserfc.jws import JWSRegistry
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cds_hooks.errors import CdsAuthError
from cds_hooks.jwks import HttpJwksCache, JwksError, JwksSource, check_jwks_url, parse_jwks
from cds_hooks.replay import InMemoryJtiCache, JtiReplayCache

#: The algorithms CDS Hooks 2.0 recommends; the only ones we accept.
ALLOWED_ALGORITHMS = frozenset({"ES384", "RS384"})
_KEY_TYPE = {"ES384": ("EC", "P-384"), "RS384": ("RSA", None)}
_MIN_RSA_BITS = 2048
_MAX_TOKEN_CHARS = 8192
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")


class TrustedIssuer(BaseModel):
    """A CDS Client we accept JWTs from, and where its public keys are."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    iss: str = Field(min_length=1)
    jwks_url: str | None = None
    jwks: dict[str, Any] | None = None  # a static JWK Set, exchanged out of band
    allowed_jku: frozenset[str] = frozenset()

    @field_validator("jwks_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return check_jwks_url(value) if value is not None else None

    @field_validator("allowed_jku")
    @classmethod
    def _jku(cls, value: frozenset[str]) -> frozenset[str]:
        return frozenset(check_jwks_url(u) for u in value)

    @field_validator("jwks")
    @classmethod
    def _static(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        try:
            keys = parse_jwks(value)
        except JwksError as exc:
            raise ValueError(str(exc)) from None
        if any("d" in k for k in keys):
            raise ValueError("a trusted JWK Set must hold public keys only")
        return value

    @model_validator(mode="after")
    def _has_keys(self) -> Self:
        if self.jwks_url is None and self.jwks is None and not self.allowed_jku:
            raise ValueError(f"issuer {self.iss!r} needs jwks_url, jwks or allowed_jku")
        return self


class JwtPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    issuers: tuple[TrustedIssuer, ...]
    algorithms: frozenset[str] = ALLOWED_ALGORITHMS
    clock_skew_s: float = Field(default=30.0, ge=0, le=300)
    max_lifetime_s: float = Field(default=300.0, gt=0, le=3600)

    @field_validator("algorithms")
    @classmethod
    def _safe_algorithms(cls, value: frozenset[str]) -> frozenset[str]:
        if not value or not value <= ALLOWED_ALGORITHMS:
            raise ValueError(
                f"algorithms must be a non-empty subset of {sorted(ALLOWED_ALGORITHMS)}"
            )
        return value

    @field_validator("issuers")
    @classmethod
    def _unique(cls, value: tuple[TrustedIssuer, ...]) -> tuple[TrustedIssuer, ...]:
        names = [i.iss for i in value]
        if len(names) != len(set(names)):
            raise ValueError("each issuer may be listed once")
        return value


@dataclass(frozen=True)
class VerifiedClient:
    """Who called: safe to log (no token)."""

    iss: str
    kid: str
    alg: str
    jti: str
    expires_at: float
    sub: str | None = None
    tenant: str | None = None


class ImportedKeys:
    """Public keys imported from JWKs, by the JWK's canonical JSON: importing (and the
    key's first use, which builds the cryptography object) is paid once per JWK, not per
    call. Content-keyed, so a rotated key can never be served from here under an old kid.
    Bounded, least recently used out first. Thread-safe."""

    def __init__(self, max_entries: int = 64) -> None:
        self._max = max_entries
        self._lock = threading.Lock()
        self._keys: OrderedDict[str, jwk.Key | None] = OrderedDict()
        self.imports = 0  # how many JWKs were actually imported (diagnostics, tests)

    def load(self, public: dict[str, Any]) -> jwk.Key | None:
        """The key for this public JWK, or None when it is unusable (RSA under 2048 bits,
        malformed)."""
        ident = json.dumps(public, sort_keys=True, separators=(",", ":"))
        with self._lock:
            if ident in self._keys:
                self._keys.move_to_end(ident)
                return self._keys[ident]
        key = _import_public(public)
        with self._lock:
            self.imports += 1
            self._keys[ident] = key
            while len(self._keys) > self._max:
                self._keys.popitem(last=False)
        return key


class RequestAuthenticator(Protocol):
    def authenticate(self, authorization: str | None, audience: str) -> VerifiedClient:
        """Check the Authorization header value for a call to URL `audience`."""
        ...


class CdsJwtVerifier:
    """The RequestAuthenticator for CDS Hooks JWTs. Thread-safe."""

    def __init__(
        self,
        policy: JwtPolicy,
        *,
        replay_cache: JtiReplayCache | None = None,
        jwks_source: JwksSource | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._policy = policy
        self._issuers = {i.iss: i for i in policy.issuers}
        self._replay = replay_cache if replay_cache is not None else InMemoryJtiCache()
        self._jwks = jwks_source if jwks_source is not None else HttpJwksCache()
        self._clock = clock
        self.imported_keys = ImportedKeys()
        # Our own allow-list, passed to the library too; headers it does not know are fine.
        self._registry = JWSRegistry(
            algorithms=sorted(policy.algorithms), strict_check_header=False
        )

    def authenticate(self, authorization: str | None, audience: str) -> VerifiedClient:
        token = _bearer_token(authorization)
        header, unverified = _decode_unverified(token)
        alg, kid = self._check_header(header)
        iss = unverified.get("iss")
        issuer = self._issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise CdsAuthError("untrusted issuer")
        key = self._find_key(issuer, header, kid, alg)
        try:
            verified = jws.deserialize_compact(
                token, key, algorithms=[alg], registry=self._registry
            )
        except JoseError:
            raise CdsAuthError("bad signature") from None
        claims = _json_object(verified.payload or b"")
        return self._check_claims(claims, issuer, audience, kid, alg)

    # ------------------------------------------------------------------ header

    def _check_header(self, header: dict[str, Any]) -> tuple[str, str]:
        alg = header.get("alg")
        if not isinstance(alg, str):
            raise CdsAuthError("alg header required")
        if alg.lower() == "none":
            raise CdsAuthError("unsigned tokens are not accepted")
        if alg not in self._policy.algorithms:
            raise CdsAuthError("alg not allowed (ES384 or RS384 only)")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise CdsAuthError("kid header required")
        if header.get("typ") != "JWT":
            raise CdsAuthError("typ header must be JWT")
        if "crit" in header:
            raise CdsAuthError("crit header not supported")
        return alg, kid

    # ------------------------------------------------------------------ keys

    def _find_key(
        self, issuer: TrustedIssuer, header: dict[str, Any], kid: str, alg: str
    ) -> jwk.Key:
        jku = header.get("jku")
        url: str | None
        if jku is not None:
            if not isinstance(jku, str) or jku not in issuer.allowed_jku:
                raise CdsAuthError("jku not allowed for this issuer")
            url = jku
        else:
            url = issuer.jwks_url
        static = parse_jwks(issuer.jwks) if issuer.jwks is not None and jku is None else []
        if not static and url is None:
            raise CdsAuthError("jku header required for this issuer")
        load = self.imported_keys.load
        key = _select_key(static, kid, alg, load)
        if key is None and url is not None:
            key = _select_key(self._remote_keys(url, refresh=False), kid, alg, load)
            if key is None:
                key = _select_key(self._remote_keys(url, refresh=True), kid, alg, load)
        if key is None:
            raise CdsAuthError("unknown kid")
        return key

    def _remote_keys(self, url: str, *, refresh: bool) -> list[dict[str, Any]]:
        try:
            return self._jwks.keys(url, refresh=refresh)
        except JwksError:
            raise CdsAuthError("issuer keys unavailable") from None

    # ------------------------------------------------------------------ claims

    def _check_claims(
        self, claims: dict[str, Any], issuer: TrustedIssuer, audience: str, kid: str, alg: str
    ) -> VerifiedClient:
        now = self._clock()
        skew = self._policy.clock_skew_s
        if claims.get("iss") != issuer.iss:
            raise CdsAuthError("untrusted issuer")
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if audience not in audiences:
            raise CdsAuthError("wrong audience")
        exp = _number(claims, "exp")
        iat = _number(claims, "iat")
        if exp is None:
            raise CdsAuthError("exp claim required")
        if iat is None:
            raise CdsAuthError("iat claim required")
        if now > exp + skew:
            raise CdsAuthError("token expired")
        if iat > now + skew:
            raise CdsAuthError("iat is in the future")
        # At most max_lifetime_s (5 min) of validity; the skew absorbs a client that
        # rounds iat down or stamps it a moment before signing.
        limit = self._policy.max_lifetime_s + skew
        if exp - iat > limit or exp - now > limit:
            raise CdsAuthError("token lifetime too long")
        nbf = _number(claims, "nbf")
        if nbf is not None and nbf > now + skew:
            raise CdsAuthError("token not yet valid")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise CdsAuthError("jti claim required")
        # Last, so a token rejected for another reason does not use up its jti.
        if not self._replay.remember(issuer.iss, jti, exp + skew):
            raise CdsAuthError("token replayed")
        sub, tenant = claims.get("sub"), claims.get("tenant")
        return VerifiedClient(
            iss=issuer.iss,
            kid=kid,
            alg=alg,
            jti=jti,
            expires_at=float(exp),
            sub=sub if isinstance(sub, str) else None,
            tenant=tenant if isinstance(tenant, str) else None,
        )


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise CdsAuthError("bearer token required")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise CdsAuthError("bearer token required")
    if len(token) > _MAX_TOKEN_CHARS:
        raise CdsAuthError("malformed token")
    return token


def _b64url(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise CdsAuthError("malformed token") from None


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        raise CdsAuthError("malformed token") from None
    if not isinstance(value, dict):
        raise CdsAuthError("malformed token")
    return value


def _decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    parts = token.split(".")
    if len(parts) != 3:
        raise CdsAuthError("malformed token")
    return _json_object(_b64url(parts[0])), _json_object(_b64url(parts[1]))


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _select_key(
    keys: list[dict[str, Any]],
    kid: str,
    alg: str,
    load: Callable[[dict[str, Any]], jwk.Key | None] | None = None,
) -> jwk.Key | None:
    """The key with this kid that can verify `alg`: right type/curve, not restricted to
    another alg or use, RSA of at least 2048 bits. `load` imports a public JWK (default:
    afresh each time)."""
    load = load or _import_public
    kty, crv = _KEY_TYPE[alg]
    for candidate in keys:
        if candidate.get("kid") != kid or candidate.get("kty") != kty:
            continue
        if crv is not None and candidate.get("crv") != crv:
            continue
        if candidate.get("alg") not in (None, alg) or candidate.get("use") not in (None, "sig"):
            continue
        ops = candidate.get("key_ops")
        if ops is not None and "verify" not in ops:
            continue
        public = {k: v for k, v in candidate.items() if k not in _PRIVATE_MEMBERS}
        key = load(public)
        if key is not None:
            return key
    return None


def _import_public(public: dict[str, Any]) -> jwk.Key | None:
    try:
        if public.get("kty") == "RSA" and len(_b64url(str(public.get("n", "")))) * 8 < (
            _MIN_RSA_BITS
        ):
            return None
        return jwk.import_key(public)
    except (JoseError, ValueError, TypeError, CdsAuthError):
        return None
