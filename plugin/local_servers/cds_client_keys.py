"""The local CDS Client's keys: an ES384 and an RS384 key pair, their JWK Set served on
127.0.0.1 by a small http.server thread, and CDS Hooks JWT signing, including every
defect a CDS Service must refuse (JwtFlaw). Test/demo tooling, not a production path."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Mapping
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

JWKS_PATH = "/jwks.json"
OTHER_JWKS_PATH = "/other-jwks.json"  # served too, but a service should not allow-list it


class JwtFlaw(StrEnum):
    """Defects the client can put in its JWT; a CDS Service must answer each with 401."""

    ALG_NONE = "alg-none"
    HS256 = "hs256"
    RS256 = "rs256"
    WRONG_AUD = "wrong-aud"
    EXPIRED = "expired"
    IAT_IN_FUTURE = "iat-in-future"
    LIFETIME_TOO_LONG = "lifetime-too-long"
    UNKNOWN_ISS = "unknown-iss"
    UNKNOWN_KID = "unknown-kid"
    BAD_SIGNATURE = "bad-signature"
    MISSING_KID = "missing-kid"
    WRONG_TYP = "wrong-typ"
    MISSING_JTI = "missing-jti"
    MISSING_EXP = "missing-exp"
    JKU_NOT_ALLOWED = "jku-not-allowed"


class _JwksHandler(BaseHTTPRequestHandler):
    documents: dict[str, bytes] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.documents.get(self.path.split("?")[0])
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # keep test output clean


class ClientKeyring:
    """Keys + loopback JWKS server + signing. `start()` before using the URLs."""

    def __init__(self, issuer: str | None = None, tenant: str | None = None) -> None:
        self._issuer = issuer
        self.tenant = tenant
        self.es384_key = ECKey.generate_key("P-384", private=True)
        self.rs384_key = RSAKey.generate_key(2048, private=True)
        self.es384_kid = f"es384-{uuid.uuid4().hex[:12]}"
        self.rs384_kid = f"rs384-{uuid.uuid4().hex[:12]}"
        self._extra_public: list[dict[str, Any]] = []
        self._documents: dict[str, bytes] = {}
        self._server: ThreadingHTTPServer | None = None
        self.jwks_base_url = ""

    def start(self) -> None:
        # A handler subclass per keyring, so two clients never share served documents.
        handler = type("JwksHandler", (_JwksHandler,), {"documents": self._documents})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._publish()
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.jwks_base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def issuer(self) -> str:
        return self._issuer or f"{self.jwks_base_url}/ehr"

    @property
    def jwks_url(self) -> str:
        return self.jwks_base_url + JWKS_PATH

    @property
    def other_jwks_url(self) -> str:
        return self.jwks_base_url + OTHER_JWKS_PATH

    def public_jwks(self) -> dict[str, Any]:
        keys = [
            {**self.es384_key.as_dict(private=False), "kid": self.es384_kid, "alg": "ES384"},
            {**self.rs384_key.as_dict(private=False), "kid": self.rs384_kid, "alg": "RS384"},
        ]
        for key in keys:
            key["use"] = "sig"
        return {"keys": keys + self._extra_public}

    def rotate_in_key(self) -> tuple[ECKey, str]:
        """Publish an extra ES384 key (key rotation); returns it and its kid."""
        key = ECKey.generate_key("P-384", private=True)
        kid = f"es384-{uuid.uuid4().hex[:12]}"
        self._extra_public.append(
            {**key.as_dict(private=False), "kid": kid, "alg": "ES384", "use": "sig"}
        )
        self._publish()
        return key, kid

    def _publish(self) -> None:
        document = json.dumps(self.public_jwks()).encode()
        self._documents[JWKS_PATH] = document
        self._documents[OTHER_JWKS_PATH] = document

    def sign(
        self,
        audience: str,
        *,
        alg: str = "ES384",
        flaw: JwtFlaw | None = None,
        jti: str | None = None,
        jku: str | None = None,
        key: tuple[ECKey, str] | None = None,
    ) -> str:
        """A CDS Hooks JWT for a call to `audience`, optionally with one defect."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "local-cds-client",
            "aud": audience,
            "exp": now + 300,
            "iat": now,
            "jti": jti or str(uuid.uuid4()),
        }
        if self.tenant:
            claims["tenant"] = self.tenant
        signing_key: ECKey | RSAKey | OctKey
        if key is not None:
            signing_key, kid = key
        elif alg == "RS384":
            signing_key, kid = self.rs384_key, self.rs384_kid
        else:
            signing_key, kid = self.es384_key, self.es384_kid
        header: dict[str, Any] = {"alg": alg, "kid": kid, "typ": "JWT"}
        if jku:
            header["jku"] = jku
        match flaw:
            case None:
                pass
            case JwtFlaw.ALG_NONE:
                return _unsigned({**header, "alg": "none"}, claims)
            case JwtFlaw.HS256:
                header["alg"] = "HS256"
                signing_key = OctKey.import_key(b"a-secret-shared-with-nobody-32by")
            case JwtFlaw.RS256:
                header.update(alg="RS256", kid=self.rs384_kid)
                signing_key = self.rs384_key
            case JwtFlaw.WRONG_AUD:
                claims["aud"] = audience + "-elsewhere"
            case JwtFlaw.EXPIRED:
                claims.update(iat=now - 900, exp=now - 600)
            case JwtFlaw.IAT_IN_FUTURE:
                claims.update(iat=now + 600, exp=now + 660)
            case JwtFlaw.LIFETIME_TOO_LONG:
                claims["exp"] = now + 3600
            case JwtFlaw.UNKNOWN_ISS:
                claims["iss"] = "https://unknown-ehr.invalid/"
            case JwtFlaw.UNKNOWN_KID:
                signing_key = ECKey.generate_key("P-384", private=True)
                header["kid"] = "kid-nobody-published"
            case JwtFlaw.BAD_SIGNATURE:
                signing_key = ECKey.generate_key("P-384", private=True)  # same kid, wrong key
                header.update(alg="ES384", kid=self.es384_kid)
            case JwtFlaw.MISSING_KID:
                del header["kid"]
            case JwtFlaw.WRONG_TYP:
                header["typ"] = "at+jwt"
            case JwtFlaw.MISSING_JTI:
                del claims["jti"]
            case JwtFlaw.MISSING_EXP:
                del claims["exp"]
            case JwtFlaw.JKU_NOT_ALLOWED:
                header["jku"] = self.other_jwks_url
        # default_type=None: the header above is sent exactly as built (typ included or not).
        return jwt.encode(
            header, claims, signing_key, algorithms=[header["alg"]], default_type=None
        )


def _unsigned(header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    def b64(part: Mapping[str, Any]) -> str:
        raw = json.dumps(part, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{b64(header)}.{b64(claims)}."
