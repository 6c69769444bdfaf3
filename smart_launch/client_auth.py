"""How the app authenticates at the token endpoint: public (client_id only), confidential
symmetric (client_secret_basic) or confidential asymmetric (private_key_jwt, RS384/ES384)."""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import quote

from joserfc import jwt
from joserfc.errors import JoseError

from smart_launch.errors import ClientAuthError
from smart_launch.http import Clock
from smart_launch.keys import SigningKey

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_LIFETIME_S = 300  # SMART: exp SHALL be no more than five minutes in the future


@dataclass(frozen=True)
class TokenRequestAuth:
    """What a client adds to a token request: form fields and headers."""

    form: dict[str, str] = field(default_factory=dict, repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)


class ClientAuthenticator(Protocol):
    @property
    def client_id(self) -> str: ...

    @property
    def method(self) -> str:
        """token_endpoint_auth_method: none, client_secret_basic or private_key_jwt."""
        ...

    def token_request_auth(self, token_endpoint: str) -> TokenRequestAuth: ...


@dataclass(frozen=True)
class PublicClient:
    """No secret: the client_id travels in the form (required for public apps)."""

    client_id: str
    method: str = "none"

    def token_request_auth(self, token_endpoint: str) -> TokenRequestAuth:
        return TokenRequestAuth(form={"client_id": self.client_id})


@dataclass(frozen=True)
class SymmetricClient:
    """client_secret_basic (RFC 6749 section 2.3.1: both parts form-urlencoded, then base64).
    The client_id is omitted from the form, as SMART says for confidential apps."""

    client_id: str
    client_secret: str = field(repr=False)
    method: str = "client_secret_basic"

    def token_request_auth(self, token_endpoint: str) -> TokenRequestAuth:
        if not self.client_secret:
            raise ClientAuthError("client_secret is empty")
        pair = f"{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}"
        basic = base64.b64encode(pair.encode("utf-8")).decode("ascii")
        return TokenRequestAuth(headers={"Authorization": f"Basic {basic}"})


@dataclass(frozen=True)
class AsymmetricClient:
    """private_key_jwt: a one-time JWT signed with the app's private key.
    Header: alg (RS384/ES384), kid, typ=JWT, optional jku (must equal the JWKS URL registered
    with the server). Claims: iss = sub = client_id, aud = token endpoint, exp (at most five
    minutes ahead), jti (random, unique per assertion)."""

    client_id: str
    signing_key: SigningKey
    jku: str | None = None
    lifetime_s: int = 240
    clock: Clock = field(default=time.time, repr=False, compare=False)
    method: str = "private_key_jwt"

    def __post_init__(self) -> None:
        if not 0 < self.lifetime_s <= MAX_ASSERTION_LIFETIME_S:
            raise ClientAuthError(
                f"assertion lifetime must be 1..{MAX_ASSERTION_LIFETIME_S} seconds"
            )

    def client_assertion(self, token_endpoint: str) -> str:
        now = int(self.clock())
        header: dict[str, str] = {
            "alg": self.signing_key.alg,
            "kid": self.signing_key.kid,
            "typ": "JWT",
        }
        if self.jku:
            header["jku"] = self.jku
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": token_endpoint,
            "exp": now + self.lifetime_s,
            "iat": now,
            "jti": secrets.token_urlsafe(32),
        }
        try:
            return jwt.encode(
                header, claims, self.signing_key.private_key, algorithms=[self.signing_key.alg]
            )
        except JoseError as exc:
            raise ClientAuthError("could not sign the client assertion") from exc

    def token_request_auth(self, token_endpoint: str) -> TokenRequestAuth:
        return TokenRequestAuth(
            form={
                "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": self.client_assertion(token_endpoint),
            }
        )
