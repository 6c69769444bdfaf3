"""Scrubbing secrets and patient identifiers out of text bound for logs.

A last line of defence: code logs route templates, ids of our own records and exception
types, never bodies or query strings. This catches what slips through anyway: bearer
tokens, JWTs, OAuth token fields, Basic credentials, passwords in URLs, query strings of
absolute URLs (FHIR searches carry `patient=...`), and patient references.
"""

from __future__ import annotations

import re

REDACTED = "[redacted]"

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization header values and bare scheme + credentials.
    (
        re.compile(r"(?i)\b(authorization\s*[:=]\s*[\"']?)(?:bearer|basic|dpop)?\s*[^\s\"',;}]+"),
        r"\1" + REDACTED,
    ),
    (re.compile(r"(?i)\b(bearer|basic|dpop)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + REDACTED),
    # JWTs (JWS compact: header.payload.signature; the header always starts with eyJ).
    (re.compile(r"\beyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*"), REDACTED),
    # Token-ish fields in JSON, form or query syntax.
    (
        re.compile(
            r"(?i)([\"']?\b(?:access_token|id_token|refresh_token|client_secret|client_assertion"
            r"|password|passwd|api_key|apikey|secret|code_verifier|session_key)[\"']?\s*[:=]\s*)"
            r"(\"[^\"]*\"|'[^']*'|[^\s&,;}\"']+)"
        ),
        r"\1" + REDACTED,
    ),
    # user:password@ in URLs (PostgreSQL DSNs, proxies).
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s:/@]+):[^\s@/]+@"), r"\1:" + REDACTED + "@"),
    # Query strings of absolute URLs: FHIR searches name patients there.
    (re.compile(r"(?i)\b(https?://[^\s?#\"']+)\?[^\s\"'#]*"), r"\1?" + REDACTED),
    # References to people: the id is an identifier of a patient or clinician.
    (
        re.compile(
            r"\b(Patient|Person|RelatedPerson|Practitioner|PractitionerRole)/[A-Za-z0-9\-.]{1,64}"
        ),
        r"\1/" + REDACTED,
    ),
)


def redact(text: str) -> str:
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text
