"""Typed CDS Hooks errors. Each carries the HTTP status the edge answers with and a short
reason that is safe to send to the caller: no stack traces, tokens or patient data."""

from __future__ import annotations

import traceback


class CdsError(Exception):
    """Base of every error the CDS Hooks edge turns into an HTTP error body."""

    http_status = 500
    #: FHIR OperationOutcome issue type (http://hl7.org/fhir/issue-type) for the error body.
    issue_code = "exception"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MalformedRequest(CdsError):
    """The body is not a valid CDS Hooks request / feedback document (HTTP 400)."""

    http_status = 400
    issue_code = "invalid"


class CdsAuthError(CdsError):
    """The caller could not be authenticated (HTTP 401). The reason names the failed check
    only (e.g. "token expired"), never the token."""

    http_status = 401
    issue_code = "login"


class UnknownService(CdsError):
    """No CDS Service with that id (HTTP 404)."""

    http_status = 404
    issue_code = "not-found"

    def __init__(self, service_id: str) -> None:
        super().__init__("no such CDS Service")
        self.service_id = service_id


class PrefetchUnavailable(CdsError):
    """Required data could be obtained neither from prefetch nor from the FHIR server
    (HTTP 412 Precondition Failed, as CDS Hooks 2.0 prescribes)."""

    http_status = 412
    issue_code = "processing"

    def __init__(self, keys: list[str]) -> None:
        super().__init__("required prefetch unavailable: " + ", ".join(sorted(keys)))
        self.keys = sorted(keys)


class CdsServiceError(CdsError):
    """Raised by a service handler to answer with a specific status and a safe reason."""

    def __init__(self, reason: str, http_status: int = 500, issue_code: str = "processing") -> None:
        super().__init__(reason)
        if not 400 <= http_status <= 599:
            raise ValueError("CdsServiceError needs a 4xx or 5xx status")
        self.http_status = http_status
        self.issue_code = issue_code


class InvalidServiceResponse(CdsError):
    """A handler returned something that breaks the CDS Hooks response rules (HTTP 500);
    the card never reaches the EHR."""

    http_status = 500
    issue_code = "exception"


class TemplateError(ValueError):
    """A prefetch template is not valid CDS Hooks 2.0 template syntax (a programming or
    configuration error, raised when a service is defined)."""


class FetchError(Exception):
    """A FhirFetcher could not obtain a resource (network error, 4xx/5xx other than
    not-found, oversize response). The message must be safe to log: no tokens, no PHI."""


class UnsupportedMediaType(CdsError):
    """The body is not sent as application/json (HTTP 415)."""

    http_status = 415
    issue_code = "not-supported"


class PayloadTooLarge(CdsError):
    """The body exceeds the configured limit (HTTP 413)."""

    http_status = 413
    issue_code = "too-costly"


class MethodNotAllowed(CdsError):
    http_status = 405
    issue_code = "not-supported"


def safe_trace(exc: BaseException) -> str:
    """Where an unexpected exception came from, for server logs: the exception type and
    the stack frames, but not its message, which may quote patient data or tokens."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    return f"{type(exc).__name__} (message withheld)\n{frames}"
