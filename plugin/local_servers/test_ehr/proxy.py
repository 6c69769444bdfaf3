"""The test EHR's FHIR endpoint: `{ehr}/fhir/*` checks the bearer token and its scopes, then
forwards to the real FHIR server (servers/fhir). `iss` = `{ehr}/fhir`, which also serves
`.well-known/smart-configuration` and a CapabilityStatement with the SMART security
extensions."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from flask import Blueprint, Response, request

from plugin.local_servers.test_ehr.access import classify, decide, decide_bundle, refers_to_patient
from plugin.local_servers.test_ehr.discovery_docs import capability_extensions, smart_configuration
from plugin.local_servers.test_ehr.oauth import EhrContext
from plugin.local_servers.test_ehr.store import IssuedToken
from plugin.local_servers.test_ehr.urls import EhrUrls
from smart_launch.scopes import GrantedScopes

FHIR_JSON = "application/fhir+json"
_FORWARD_REQUEST_HEADERS = ("Content-Type", "If-None-Exist", "If-Match", "Prefer", "Accept")
_FORWARD_RESPONSE_HEADERS = ("ETag", "Last-Modified", "Location", "Content-Location")


def _outcome(status: int, code: str, text: str, www_authenticate: str | None = None) -> Response:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }
    response = Response(json.dumps(body), status=status, content_type=FHIR_JSON)
    if www_authenticate:
        response.headers["WWW-Authenticate"] = www_authenticate
    return response


def _bearer_challenge(error: str | None = None, description: str | None = None) -> str:
    # RFC 6750 section 3.
    parts = ['Bearer realm="test-ehr"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{description}"')
    return ", ".join(parts)


def _json_response(document: dict[str, Any], content_type: str = "application/json") -> Response:
    return Response(json.dumps(document), status=200, content_type=content_type)


def _upstream_url(upstream: str, parts: list[str], query_string: bytes) -> str:
    url = f"{upstream}/{'/'.join(parts)}" if parts else upstream
    # The query string is passed through byte for byte (repeated and modified params intact).
    return f"{url}?{query_string.decode('latin-1')}" if query_string else url


def create_fhir_proxy_blueprint(ctx: EhrContext, http: httpx.Client) -> Blueprint:
    bp = Blueprint("test_ehr_fhir", __name__)
    upstream = ctx.settings.fhir_upstream.rstrip("/")

    def rewrite_out(text: str, urls: EhrUrls) -> str:
        return text.replace(upstream, urls.fhir)

    def rewrite_in(text: str, urls: EhrUrls) -> str:
        return text.replace(urls.fhir, upstream)

    @bp.get("/fhir/.well-known/smart-configuration")
    def smart_config() -> Response:
        # SMART: JSON whatever the Accept header says.
        return _json_response(smart_configuration(ctx.settings, EhrUrls.current()))

    @bp.get("/fhir/metadata")
    def metadata() -> Response:
        urls = EhrUrls.current()
        try:
            r = http.get(f"{upstream}/metadata", headers={"Accept": FHIR_JSON})
            statement = json.loads(rewrite_out(r.text, urls))
        except (httpx.HTTPError, ValueError):
            return _outcome(502, "transient", "the FHIR server behind the EHR is unavailable")
        for rest in statement.get("rest") or []:
            rest["security"] = {
                "service": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                "code": "SMART-on-FHIR",
                            }
                        ]
                    }
                ],
                "extension": capability_extensions(ctx.settings, urls),
            }
        return _json_response(statement, FHIR_JSON)

    def authenticate() -> IssuedToken | Response:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return _outcome(401, "login", "a bearer token is required", _bearer_challenge())
        token = ctx.store.get_token(value.strip())
        if token is None:
            return _outcome(
                401,
                "login",
                "the access token is not valid",
                _bearer_challenge("invalid_token", "The access token is not valid"),
            )
        if token.expires_at <= time.time():
            return _outcome(
                401,
                "expired",
                "the access token has expired",
                _bearer_challenge("invalid_token", "The access token expired"),
            )
        return token

    def forbidden(reason: str) -> Response:
        return _outcome(
            403,
            "forbidden",
            reason,
            _bearer_challenge("insufficient_scope", "The token scope does not permit this"),
        )

    @bp.route("/fhir", methods=["GET", "POST"], defaults={"path": ""})
    @bp.route("/fhir/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def proxy(path: str) -> Response:
        token = authenticate()
        if isinstance(token, Response):
            return token
        urls = EhrUrls.current()
        parts = [p for p in path.split("/") if p]
        granted = GrantedScopes.parse(token.scope)
        patient = token.context.patient
        query = [(k, v) for k, vs in request.args.lists() for v in vs]
        raw = request.get_data(as_text=True)
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return _outcome(400, "invalid", "the request body is not valid JSON")
        if not parts and request.method == "POST":
            decision = decide_bundle(granted, patient, body if isinstance(body, dict) else {})
        else:
            interaction = classify(request.method, parts)
            if interaction is None:
                return _outcome(400, "not-supported", "unsupported FHIR interaction")
            decision = decide(
                granted, patient, interaction, query, body if isinstance(body, dict) else None
            )
        if not decision.allowed:
            return forbidden(decision.reason)
        headers = {h: request.headers[h] for h in _FORWARD_REQUEST_HEADERS if h in request.headers}
        headers.setdefault("Accept", FHIR_JSON)
        try:
            upstream_response = http.request(
                request.method,
                _upstream_url(upstream, parts, request.query_string),
                content=rewrite_in(raw, urls).encode("utf-8") if raw else None,
                headers=headers,
            )
        except httpx.HTTPError:
            return _outcome(502, "transient", "the FHIR server behind the EHR is unavailable")
        text = rewrite_out(upstream_response.text, urls)
        if decision.check_response_patient and upstream_response.status_code == 200:
            try:
                resource = json.loads(text)
            except ValueError:
                resource = {}
            if not (
                isinstance(resource, dict) and patient and refers_to_patient(resource, patient)
            ):
                return forbidden("patient-level scope covers only the patient in context")
        response = Response(
            text,
            status=upstream_response.status_code,
            content_type=upstream_response.headers.get("Content-Type", FHIR_JSON),
        )
        for name in _FORWARD_RESPONSE_HEADERS:
            if name in upstream_response.headers:
                response.headers[name] = rewrite_out(upstream_response.headers[name], urls)
        return response

    return bp
