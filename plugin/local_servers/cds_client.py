"""A test CDS Client (an EHR stand-in) for tests, the demo and the benchmark; not used by
production code paths.

It owns an ES384 and an RS384 key, serves their JWK Set on 127.0.0.1 from a small
http.server thread, signs CDS Hooks JWTs (iss, aud = the URL called, exp, iat, jti, tenant)
and calls a CDS Service over real HTTP. It can craft every JWT defect a service must refuse
(JwtFlaw), and fill prefetch as an EHR would, from a FHIR server, or leave keys missing,
null, or as an OperationOutcome (PrefetchMode).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Mapping
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
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


class PrefetchMode(StrEnum):
    PRESENT = "present"  # fetched from the FHIR server, as a CDS Client would
    MISSING = "missing"  # key omitted
    NULL = "null"  # key sent as null ("no data")
    OPERATION_OUTCOME = "operation-outcome"  # the client reports it could not fetch


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


class LocalCdsClient:
    """`with LocalCdsClient() as client: client.cds_base_url = ...; client.call(...)`."""

    def __init__(
        self,
        cds_base_url: str | None = None,
        *,
        issuer: str | None = None,
        tenant: str | None = "demo-tenant",
        timeout_s: float = 30.0,
    ) -> None:
        self.cds_base_url = cds_base_url.rstrip("/") if cds_base_url else None
        self._issuer = issuer
        self.tenant = tenant
        self.es384_key = ECKey.generate_key("P-384", private=True)
        self.rs384_key = RSAKey.generate_key(2048, private=True)
        self.es384_kid = f"es384-{uuid.uuid4().hex[:12]}"
        self.rs384_kid = f"rs384-{uuid.uuid4().hex[:12]}"
        self._extra_public: list[dict[str, Any]] = []
        self._http = httpx.Client(timeout=timeout_s, trust_env=False)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.jwks_base_url = ""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LocalCdsClient:
        self._documents: dict[str, bytes] = {}
        # A subclass per client, so two clients never share served documents.
        handler = type("JwksHandler", (_JwksHandler,), {"documents": self._documents})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._publish()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.jwks_base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._http.close()

    def __enter__(self) -> LocalCdsClient:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ keys

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
        if self._server is None:
            return
        document = json.dumps(self.public_jwks()).encode()
        self._documents[JWKS_PATH] = document
        self._documents[OTHER_JWKS_PATH] = document

    # ------------------------------------------------------------------ JWTs

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

    # ------------------------------------------------------------------ calls

    def url(self, path: str) -> str:
        if not self.cds_base_url:
            raise RuntimeError("set cds_base_url first")
        return self.cds_base_url + path

    def discover(
        self, *, alg: str = "ES384", flaw: JwtFlaw | None = None, authenticate: bool = True
    ) -> httpx.Response:
        url = self.url("/cds-services")
        headers = self._auth_headers(url, alg, flaw, authenticate)
        return self._http.get(url, headers=headers)

    def call(
        self,
        service_id: str,
        body: Mapping[str, Any] | bytes,
        *,
        alg: str = "ES384",
        flaw: JwtFlaw | None = None,
        token: str | None = None,
        authenticate: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        url = self.url(f"/cds-services/{quote(service_id, safe='')}")
        return self._post(url, body, alg, flaw, token, authenticate, headers)

    def feedback(
        self,
        service_id: str,
        body: Mapping[str, Any] | bytes,
        *,
        alg: str = "ES384",
        flaw: JwtFlaw | None = None,
        authenticate: bool = True,
    ) -> httpx.Response:
        url = self.url(f"/cds-services/{quote(service_id, safe='')}/feedback")
        return self._post(url, body, alg, flaw, None, authenticate, None)

    def _post(
        self,
        url: str,
        body: Mapping[str, Any] | bytes,
        alg: str,
        flaw: JwtFlaw | None,
        token: str | None,
        authenticate: bool,
        headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        else:
            sent.update(self._auth_headers(url, alg, flaw, authenticate))
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self._http.post(url, content=content, headers=sent)

    def _auth_headers(
        self, url: str, alg: str, flaw: JwtFlaw | None, authenticate: bool
    ) -> dict[str, str]:
        if not authenticate:
            return {}
        return {"Authorization": f"Bearer {self.sign(url, alg=alg, flaw=flaw)}"}

    # ------------------------------------------------------------------ hook requests

    def hook_request(
        self,
        hook: str,
        context: Mapping[str, Any],
        *,
        fhir_server: str | None = None,
        access_token: str | None = None,
        prefetch: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "hook": hook,
            "hookInstance": str(uuid.uuid4()),
            "context": dict(context),
        }
        if fhir_server:
            body["fhirServer"] = fhir_server
        if access_token:
            body["fhirAuthorization"] = {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "user/Patient.read user/Observation.read user/Practitioner.read",
                "subject": "local-cds-service",
            }
        if prefetch is not None:
            body["prefetch"] = dict(prefetch)
        return body

    def build_prefetch(
        self,
        templates: Mapping[str, str],
        context: Mapping[str, Any],
        mode: PrefetchMode | Mapping[str, PrefetchMode],
        *,
        fhir_server: str | None = None,
        access_token: str | None = None,
    ) -> dict[str, Any]:
        """Prefetch as an EHR builds it: each key per its mode (a mapping may give one mode
        per key; keys it leaves out are MISSING). PRESENT keys are fetched from
        `fhir_server`; a template this client cannot expand is omitted, as the spec asks."""
        out: dict[str, Any] = {}
        for key, template in templates.items():
            key_mode = mode if isinstance(mode, PrefetchMode) else mode.get(key)
            if key_mode is None or key_mode is PrefetchMode.MISSING:
                continue
            if key_mode is PrefetchMode.NULL:
                out[key] = None
            elif key_mode is PrefetchMode.OPERATION_OUTCOME:
                out[key] = {
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "error", "code": "timeout"}],
                }
            else:
                if fhir_server is None:
                    raise ValueError("PRESENT prefetch needs fhir_server")
                relative = _expand(template, context)
                if relative is not None:
                    out[key] = self._fetch(fhir_server, relative, access_token)
        return out

    def _fetch(self, base: str, relative: str, token: str | None) -> dict[str, Any] | None:
        headers = {"Accept": "application/fhir+json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        r = self._http.get(f"{base.rstrip('/')}/{relative}", headers=headers)
        if r.status_code in (404, 410):
            return None
        r.raise_for_status()
        document: dict[str, Any] = r.json()
        if document.get("resourceType") != "Bundle":
            return document
        # Prefetch data comes whole (no next links); no data at all is sent as null (2.0).
        entries = list(document.get("entry") or [])
        next_url = _next_link(document)
        while next_url:
            page = self._http.get(next_url, headers=headers)
            page.raise_for_status()
            entries += page.json().get("entry") or []
            next_url = _next_link(page.json())
        if not entries:
            return None
        document = {k: v for k, v in document.items() if k != "link"}
        document["entry"] = entries
        document["total"] = len(entries)
        return document


_EHR_TOKEN = re.compile(r"\{\{\s*([^}]*?)\s*\}\}")
_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


def _expand(template: str, context: Mapping[str, Any]) -> str | None:
    """This client's own (deliberately independent, 2.0-only) token expansion; None when a
    token cannot be expanded."""
    failed = False

    def replace(match: re.Match[str]) -> str:
        nonlocal failed
        expr = match.group(1)
        value: Any = None
        if expr.startswith("context."):
            value = context.get(expr.removeprefix("context."))
            if expr == "context.userId" and match.group(0) == template:
                return str(value) if isinstance(value, str) else ""
        elif expr in _USER_TOKENS and isinstance(context.get("userId"), str):
            rtype, _, rid = str(context["userId"]).partition("/")
            value = rid if rtype == _USER_TOKENS[expr] else None
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            failed = True
            return ""
        return quote(str(value), safe="/")

    expanded = _EHR_TOKEN.sub(replace, template)
    return None if failed or not expanded else expanded


def _next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if link.get("relation") == "next":
            return str(link["url"])
    return None


def _unsigned(header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    def b64(part: Mapping[str, Any]) -> str:
        raw = json.dumps(part, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{b64(header)}.{b64(claims)}."
