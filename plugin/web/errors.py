"""Typed errors become one JSON body at the edge, never a stack trace.

- `HttpProblem` (and subclasses) raised by a view: its status and safe detail.
- Typed errors of lower layers (FHIR gateway, store, grader: BadImage -> 422,
  ModelUnavailable and the workflow's GraderUnavailable -> 503) through ERROR_MAPPINGS;
  other parts add theirs with `register_error_mapping`.
- werkzeug HTTP errors (404, 405, 413...): their status and standard text.
- Anything else: 500 with a generic message and the request id; the log gets the type and
  frames, not the message (which may hold patient data).

Body: an OperationOutcome (application/fhir+json) on FHIR-ish routes (a path under one of
FHIR_ROUTE_PREFIXES, or a request accepting application/fhir+json); elsewhere an RFC 9457
problem (application/problem+json) with the request id.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, g, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from models.grader.errors import BadImage, ModelUnavailable
from plugin.fhir.errors import (
    FhirAuthError,
    FhirError,
    FhirNotFound,
    FhirTimeout,
    FhirUnavailable,
)
from plugin.observability.metrics import Metrics
from plugin.store.errors import IdempotencyConflict, StoreUnavailable
from plugin.workflow.errors import GraderUnavailable

log = logging.getLogger("deepdr.http")

FHIR_ROUTE_PREFIXES_KEY = "DEEPDR_FHIR_ROUTE_PREFIXES"
DEFAULT_FHIR_ROUTE_PREFIXES: tuple[str, ...] = ("/fhir", "/cds-services")
FHIR_JSON = "application/fhir+json"
PROBLEM_JSON = "application/problem+json"
GRADER_DOWN = "the grading model is unavailable; try again later"


class HttpProblem(Exception):
    """Raise from a view: `detail` is shown to the caller, so keep it short and free of
    patient data and secrets."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, status: int | None = None, title: str | None = None):
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title


class BadRequestProblem(HttpProblem):
    pass


class NotFoundProblem(HttpProblem):
    status = 404
    title = "Not found"


class ConflictProblem(HttpProblem):
    status = 409
    title = "Conflict"


class UnavailableProblem(HttpProblem):
    status = 503
    title = "Service unavailable"


@dataclass(frozen=True)
class ErrorMapping:
    status: int
    title: str
    detail: Callable[[Exception], str]


def _fixed(text: str) -> Callable[[Exception], str]:
    return lambda exc: text


def _fhir_detail(exc: Exception) -> str:
    # FhirError.message is safe by contract; the server's OperationOutcome text is not shown.
    return exc.message if isinstance(exc, FhirError) else "FHIR server error"


def _bad_image_detail(exc: Exception) -> str:
    # BadImage messages are safe by contract (what is wrong with the image, no PHI).
    text = str(exc).strip()[:200]
    return f"the image cannot be graded: {text}" if text else "the image cannot be graded"


def _validation_detail(exc: Exception) -> str:
    if not isinstance(exc, ValidationError):
        return "invalid request"
    places = sorted({".".join(str(p) for p in e["loc"]) or "(body)" for e in exc.errors()})
    return f"invalid request: {exc.error_count()} problem(s) at {', '.join(places[:5])}"


# Most specific first: the first isinstance match wins.
ERROR_MAPPINGS: list[tuple[type[Exception], ErrorMapping]] = [
    (FhirNotFound, ErrorMapping(404, "Not found", _fhir_detail)),
    (FhirAuthError, ErrorMapping(502, "FHIR server refused access", _fhir_detail)),
    (FhirTimeout, ErrorMapping(504, "FHIR server timeout", _fhir_detail)),
    (FhirUnavailable, ErrorMapping(503, "FHIR server unavailable", _fhir_detail)),
    (FhirError, ErrorMapping(502, "FHIR server error", _fhir_detail)),
    (StoreUnavailable, ErrorMapping(503, "Service unavailable", _fixed("storage unavailable"))),
    (IdempotencyConflict, ErrorMapping(409, "Conflict", _fixed("conflicting repeated request"))),
    (ValidationError, ErrorMapping(400, "Bad request", _validation_detail)),
    (BadImage, ErrorMapping(422, "Image cannot be graded", _bad_image_detail)),
    # The reason (bundle folder, metadata mismatch) is for the operator's /readyz and logs.
    (ModelUnavailable, ErrorMapping(503, "Grader unavailable", _fixed(GRADER_DOWN))),
    (GraderUnavailable, ErrorMapping(503, "Grader unavailable", _fixed(GRADER_DOWN))),
]


def register_error_mapping(
    exc_type: type[Exception], status: int, title: str, detail: Callable[[Exception], str]
) -> None:
    """Adds a mapping ahead of the defaults (more specific types should come first); one
    for the same type replaces it (apps built again in one process register again)."""
    ERROR_MAPPINGS[:] = [(t, m) for t, m in ERROR_MAPPINGS if t is not exc_type]
    ERROR_MAPPINGS.insert(0, (exc_type, ErrorMapping(status, title, detail)))


_ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    413: "too-long",
    415: "not-supported",
    422: "processing",
    429: "throttled",
    504: "timeout",
}


def _issue_code(status: int) -> str:
    if status in _ISSUE_CODES:
        return _ISSUE_CODES[status]
    return "transient" if status in (502, 503) else ("exception" if status >= 500 else "invalid")


def wants_fhir(app: Flask) -> bool:
    prefixes = app.config.get(FHIR_ROUTE_PREFIXES_KEY, DEFAULT_FHIR_ROUTE_PREFIXES)
    if any(request.path == p or request.path.startswith(p.rstrip("/") + "/") for p in prefixes):
        return True
    return FHIR_JSON in request.headers.get("Accept", "")


def error_response(app: Flask, status: int, title: str, detail: str) -> Response:
    request_id = g.get("request_id")
    if wants_fhir(app):
        text = detail + (f" (request id {request_id})" if request_id and status >= 500 else "")
        body: dict[str, object] = {
            "resourceType": "OperationOutcome",
            "issue": [
                {"severity": "error", "code": _issue_code(status), "details": {"text": text}}
            ],
        }
        mimetype = FHIR_JSON
    else:
        body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
        if request_id:
            body["request_id"] = request_id
        mimetype = PROBLEM_JSON
    return Response(json.dumps(body), status=status, mimetype=mimetype)


def install_error_handlers(app: Flask, metrics: Metrics) -> None:
    @app.errorhandler(HttpProblem)
    def problem(exc: HttpProblem) -> Response:
        metrics.count_error(type(exc).__name__, "http")
        return error_response(app, exc.status, exc.title, exc.detail)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        if status >= 400:
            metrics.count_error(f"http_{status}", "http")
        response = error_response(app, status, exc.name, exc.description or exc.name)
        if status == 405 and exc.response is None:
            allowed = getattr(exc, "valid_methods", None)
            if allowed:
                response.headers["Allow"] = ", ".join(allowed)
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        for exc_type, mapping in ERROR_MAPPINGS:
            if isinstance(exc, exc_type):
                metrics.count_error(type(exc).__name__, "http")
                if mapping.status >= 500:
                    log.warning("request failed: %s", type(exc).__name__)
                return error_response(app, mapping.status, mapping.title, mapping.detail(exc))
        metrics.count_error(type(exc).__name__, "http")
        log.error("unhandled error", exc_info=exc)
        return error_response(
            app, 500, "Internal server error", "internal error; quote the request id if reporting"
        )
