"""The Flask edge of CDS Hooks: GET /cds-services, POST /cds-services/{id},
POST /cds-services/{id}/feedback. Views only translate HTTP to CdsHooksRouter calls and
CdsErrors to JSON error bodies (a FHIR OperationOutcome whose details.text is the short
reason); CORS for browser-based CDS Clients, with preflights answered without auth.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, request

from cds_hooks.errors import (
    CdsError,
    MethodNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
    safe_trace,
)
from cds_hooks.prefetch import FhirFetcher, PrefetchResolver
from cds_hooks.router import CdsHooksRouter, IncomingCall
from cds_hooks.security import RequestAuthenticator
from cds_hooks.service import FeedbackStore, ServiceBinding

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024  # prefetch Bundles can be large


@dataclass(frozen=True)
class CorsPolicy:
    """Origins allowed to call from a browser; "*" allows any (no credentials are used:
    the JWT travels in the Authorization header, which the preflight allows)."""

    allowed_origins: frozenset[str] = frozenset()
    max_age_s: int = 600

    def origin_to_allow(self, origin: str | None) -> str | None:
        if not origin:
            return None
        if "*" in self.allowed_origins:
            return "*"
        return origin if origin in self.allowed_origins else None


def create_cds_blueprint(
    services: Sequence[ServiceBinding],
    feedback_store: FeedbackStore,
    verifier: RequestAuthenticator,
    fetcher: FhirFetcher | None,
    *,
    public_base_url: str | None = None,
    cors: CorsPolicy | None = None,
    require_auth_for_discovery: bool = True,
    allowed_fhir_servers: Collection[str] | None = None,
    fetch_without_authorization: bool = False,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    name: str = "cds_hooks",
) -> Blueprint:
    """A blueprint serving `services`. `public_base_url` is the base URL clients use (up
    to, not including, /cds-services); set it behind a proxy, since the JWT audience must
    equal the URL the client called. Without it the request's own URL is used."""
    router = CdsHooksRouter(
        services,
        authenticator=verifier,
        resolver=PrefetchResolver(
            fetcher,
            allowed_fhir_servers=allowed_fhir_servers,
            fetch_without_authorization=fetch_without_authorization,
        ),
        feedback_store=feedback_store,
        require_auth_for_discovery=require_auth_for_discovery,
    )
    return blueprint_for_router(
        router,
        public_base_url=public_base_url,
        cors=cors or CorsPolicy(),
        max_body_bytes=max_body_bytes,
        name=name,
    )


def blueprint_for_router(
    router: CdsHooksRouter,
    *,
    public_base_url: str | None = None,
    cors: CorsPolicy | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    name: str = "cds_hooks",
) -> Blueprint:
    cors = cors or CorsPolicy()
    base = public_base_url.rstrip("/") if public_base_url else None
    bp = Blueprint(name, __name__)

    def called_url(relative: str) -> str:
        return base + relative if base else request.base_url

    def incoming(relative: str) -> IncomingCall:
        return IncomingCall(
            url=called_url(relative), authorization=request.headers.get("Authorization")
        )

    def read_body() -> bytes:
        if not request.is_json:
            raise UnsupportedMediaType("send the body as application/json")
        if request.content_length is not None and request.content_length > max_body_bytes:
            raise PayloadTooLarge("request body too large")
        body = request.stream.read(max_body_bytes + 1)
        if len(body) > max_body_bytes:
            raise PayloadTooLarge("request body too large")
        return body

    def preflight(methods: str) -> Response:
        response = Response(status=204)
        if cors.origin_to_allow(request.headers.get("Origin")):
            response.headers["Access-Control-Allow-Methods"] = methods
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            response.headers["Access-Control-Max-Age"] = str(cors.max_age_s)
        return response

    @bp.after_request
    def add_cors(response: Response) -> Response:
        allowed = cors.origin_to_allow(request.headers.get("Origin"))
        if allowed:
            response.headers["Access-Control-Allow-Origin"] = allowed
            response.headers["Access-Control-Expose-Headers"] = "WWW-Authenticate"
        if cors.allowed_origins and "*" not in cors.allowed_origins:
            response.vary.add("Origin")
        return response

    @bp.route("/cds-services", methods=["GET", "OPTIONS"])
    def discovery() -> Response:
        if request.method == "OPTIONS":
            return preflight("GET, OPTIONS")
        return _answer(lambda: router.discovery(incoming("/cds-services")).to_json())

    @bp.route("/cds-services/<service_id>", methods=["GET", "POST", "OPTIONS"])
    def service(service_id: str) -> Response:
        if request.method == "OPTIONS":
            return preflight("POST, OPTIONS")
        if request.method != "POST":
            return _error(MethodNotAllowed("use POST to call a CDS Service"), allow="POST")
        call = incoming(f"/cds-services/{quote(service_id, safe='')}")
        return _answer(lambda: router.call_service(call, service_id, read_body).to_json())

    @bp.route("/cds-services/<service_id>/feedback", methods=["POST", "OPTIONS"])
    def feedback(service_id: str) -> Response:
        if request.method == "OPTIONS":
            return preflight("POST, OPTIONS")
        call = incoming(f"/cds-services/{quote(service_id, safe='')}/feedback")
        return _answer(lambda: router.feedback(call, service_id, read_body).to_json())

    return bp


def _json(document: Any, status: int = 200) -> Response:
    return Response(json.dumps(document), status=status, mimetype="application/json")


def _answer(produce: Callable[[], Any]) -> Response:
    try:
        return _json(produce())
    except CdsError as exc:
        return _error(exc)
    except Exception as exc:
        log.error("unexpected error in the CDS Hooks edge: %s", safe_trace(exc))
        return _error(CdsError("internal error"))


def _error(exc: CdsError, allow: str | None = None) -> Response:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": exc.issue_code, "details": {"text": exc.reason}}],
    }
    response = _json(outcome, exc.http_status)
    if exc.http_status == 401:
        # RFC 6750 section 3: no error code when no credentials were sent at all.
        if exc.reason == "bearer token required":
            response.headers["WWW-Authenticate"] = 'Bearer realm="cds-services"'
        else:
            response.headers["WWW-Authenticate"] = (
                f'Bearer realm="cds-services", error="invalid_token", '
                f'error_description="{exc.reason}"'
            )
    if allow:
        response.headers["Allow"] = allow
    return response
