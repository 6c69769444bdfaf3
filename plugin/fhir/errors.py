"""Typed FHIR errors. Each carries the HTTP status (None when no response came back), a
short message safe to show to a caller, and the server's OperationOutcome text. Messages
never contain tokens, request bodies or query strings (which can hold patient ids)."""

from __future__ import annotations

import re
from typing import Any

MAX_OUTCOME_CHARS = 500
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class FhirError(Exception):
    def __init__(self, message: str, status: int | None = None, outcome_text: str | None = None):
        self.message = message
        self.status = status
        self.outcome_text = outcome_text
        super().__init__(self.__str__())

    def __str__(self) -> str:
        head = f"{self.message} (HTTP {self.status})" if self.status else self.message
        return f"{head}: {self.outcome_text}" if self.outcome_text else head


class FhirRequestError(FhirError):
    """We refused to send the request: a bad resource type, id or URL on our side."""


class FhirInvalid(FhirError):
    """400 / 422: the server rejected what we sent."""


class FhirAuthError(FhirError):
    """401 / 403: missing, expired or insufficient token."""


class FhirNotFound(FhirError):
    """404 / 410."""


class FhirConflict(FhirError):
    """409 / 412: version conflict, or a conditional operation matched several resources."""


class FhirTimeout(FhirError):
    """No complete answer within the timeout."""


class FhirUnavailable(FhirError):
    """Cannot connect, 429, or a 5xx: worth retrying later."""


class FhirProtocolError(FhirError):
    """The server answered something a FHIR server should not (not JSON, wrong resource
    type, a paging link to another origin)."""


class FhirTransactionError(FhirError):
    """A transaction-response reported a failed entry (some servers answer 200 anyway)."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        outcome_text: str | None = None,
        entry_index: int | None = None,
    ):
        self.entry_index = entry_index
        super().__init__(message, status, outcome_text)


def error_for_status(status: int) -> type[FhirError]:
    if status in (400, 422):
        return FhirInvalid
    if status in (401, 403):
        return FhirAuthError
    if status in (404, 410):
        return FhirNotFound
    if status in (409, 412):
        return FhirConflict
    if status == 429 or status >= 500:
        return FhirUnavailable
    return FhirError


def outcome_text(body: Any) -> str | None:
    """The human-readable part of an OperationOutcome: each issue's details.text or
    diagnostics, joined, without control characters, capped in length."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return None
    texts = []
    for issue in body.get("issue") or []:
        if not isinstance(issue, dict):
            continue
        details = issue.get("details")
        text = details.get("text") if isinstance(details, dict) else None
        text = text or issue.get("diagnostics") or issue.get("code")
        if isinstance(text, str) and text.strip():
            texts.append(_CONTROL.sub(" ", text).strip())
    if not texts:
        return None
    joined = "; ".join(dict.fromkeys(texts))
    return joined if len(joined) <= MAX_OUTCOME_CHARS else joined[: MAX_OUTCOME_CHARS - 3] + "..."
