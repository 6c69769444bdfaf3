"""A test CDS Client (an EHR stand-in) for tests, the demo and the benchmark; not used by
production code paths.

It owns an ES384 and an RS384 key, serves their JWK Set on 127.0.0.1 from a small
http.server thread, signs CDS Hooks JWTs (iss, aud = the URL called, exp, iat, jti, tenant)
and calls a CDS Service over real HTTP. It can craft every JWT defect a service must refuse
(JwtFlaw), and fill prefetch as an EHR would, from a FHIR server, or leave keys missing,
null, or as an OperationOutcome (PrefetchMode).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from enum import StrEnum
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
from joserfc.jwk import ECKey

from plugin.local_servers.cds_client_keys import ClientKeyring, JwtFlaw

__all__ = ["JwtFlaw", "LocalCdsClient", "PrefetchMode"]


class PrefetchMode(StrEnum):
    PRESENT = "present"  # fetched from the FHIR server, as a CDS Client would
    MISSING = "missing"  # key omitted
    NULL = "null"  # key sent as null ("no data")
    OPERATION_OUTCOME = "operation-outcome"  # the client reports it could not fetch


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
        self.keys = ClientKeyring(issuer=issuer, tenant=tenant)
        #: the raw HTTP client, for hand-made requests (preflights, odd headers)
        self.http = httpx.Client(timeout=timeout_s, trust_env=False)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LocalCdsClient:
        self.keys.start()
        return self

    def stop(self) -> None:
        self.keys.stop()
        self.http.close()

    def __enter__(self) -> LocalCdsClient:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ keys and JWTs

    @property
    def issuer(self) -> str:
        return self.keys.issuer

    @property
    def jwks_url(self) -> str:
        return self.keys.jwks_url

    @property
    def other_jwks_url(self) -> str:
        return self.keys.other_jwks_url

    def public_jwks(self) -> dict[str, Any]:
        return self.keys.public_jwks()

    def rotate_in_key(self) -> tuple[ECKey, str]:
        return self.keys.rotate_in_key()

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
        return self.keys.sign(audience, alg=alg, flaw=flaw, jti=jti, jku=jku, key=key)

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
        return self.http.get(url, headers=headers)

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
        return self.http.post(url, content=content, headers=sent)

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
        r = self.http.get(f"{base.rstrip('/')}/{relative}", headers=headers)
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
            page = self.http.get(next_url, headers=headers)
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
