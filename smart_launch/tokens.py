"""Token responses (SMART App Launch steps 5 and 7, Backend Services step 3) parsed into a typed
`TokenSet`: the access token, its absolute expiry, the granted scopes and the launch context.

Secrets (access, refresh and id tokens) are excluded from `repr`, so logging a TokenSet or a
session never prints them; they are still serialised for (encrypted) storage."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from smart_launch.errors import SmartAuthError, TokenResponseError
from smart_launch.scopes import GrantedScopes

# FHIR R4 id: 1..64 of [A-Za-z0-9-.]. Context ids end up in URLs, so malformed ones are refused.
FHIR_ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
# appContext longer than this is dropped: it is kept in the session, and no app needs more.
MAX_APP_CONTEXT_CHARS = 32768

OAUTH_ERROR_MESSAGES: dict[str, str] = {
    "invalid_grant": "The sign-in code or session was not accepted by the EHR "
    "(it may have expired or been used already).",
    "invalid_client": "The EHR did not recognise this app's credentials.",
    "unauthorized_client": "The EHR does not allow this app to sign in this way.",
    "invalid_scope": "The EHR refused the access this app asked for.",
    "invalid_request": "The EHR rejected the sign-in request as malformed.",
    "unsupported_grant_type": "The EHR does not support this way of signing in.",
}


class FhirContextItem(BaseModel):
    """One `fhirContext` entry (SMART 2.1+: an object with reference/canonical/identifier).
    SMART 2.0 servers sent bare reference strings; those are accepted as `reference`."""

    model_config = ConfigDict(extra="allow", frozen=True)

    reference: str | None = None
    canonical: str | None = None
    identifier: dict[str, Any] | None = None
    type: str | None = None
    role: str | None = None


class TokenResponse(BaseModel):
    """The token endpoint's JSON, as sent. Extension members are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    access_token: str = Field(min_length=1, repr=False)
    token_type: str
    expires_in: int | None = Field(default=None, ge=0)
    scope: str | None = None
    refresh_token: str | None = Field(default=None, repr=False)
    id_token: str | None = Field(default=None, repr=False)
    patient: str | None = None
    encounter: str | None = None
    need_patient_banner: bool | None = None
    smart_style_url: str | None = None
    intent: str | None = None
    tenant: str | None = None
    fhirContext: list[FhirContextItem] = Field(default_factory=list)  # the wire name
    # CDS Hooks 2.0 Link.appContext, which the EHR returns with the launch context: a string
    # (escaped JSON, base64, plain text) only the app interprets. May name a patient: no repr.
    appContext: str | None = Field(default=None, repr=False)

    @field_validator("token_type")
    @classmethod
    def _bearer(cls, value: str) -> str:
        # "Bearer" per SMART App Launch, "bearer" per Backend Services: case-insensitive.
        if value.lower() != "bearer":
            raise ValueError("token_type must be Bearer")
        return "Bearer"

    @field_validator("patient", "encounter")
    @classmethod
    def _fhir_id(cls, value: str | None) -> str | None:
        if value is not None and not FHIR_ID_RE.match(value):
            raise ValueError("not a FHIR resource id")
        return value

    @field_validator("appContext", mode="before")
    @classmethod
    def _app_context(cls, value: Any) -> str | None:
        """A string is kept as sent; a JSON object or array (servers that parse it) as compact
        JSON text. Anything else, or too long, is dropped: context the app may use, never a
        reason to fail the sign-in."""
        if isinstance(value, dict | list):
            value = json.dumps(value, separators=(",", ":"), sort_keys=True)
        if not isinstance(value, str) or not value or len(value) > MAX_APP_CONTEXT_CHARS:
            return None
        return value

    @field_validator("fhirContext", mode="before")
    @classmethod
    def _legacy_strings(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, list):
            return [{"reference": v} if isinstance(v, str) else v for v in value]
        return value


class TokenSet(BaseModel):
    """What the app keeps from a token response. `expires_at` is absolute (epoch seconds)."""

    model_config = ConfigDict(frozen=True)

    access_token: str = Field(repr=False)
    token_type: str = "Bearer"
    expires_at: float | None = None
    scope: str = ""
    refresh_token: str | None = Field(default=None, repr=False)
    id_token: str | None = Field(default=None, repr=False)
    fhir_user: str | None = None
    patient: str | None = None
    encounter: str | None = None
    need_patient_banner: bool | None = None
    smart_style_url: str | None = None
    intent: str | None = None
    tenant: str | None = None
    fhir_context: tuple[FhirContextItem, ...] = ()
    app_context: str | None = Field(default=None, repr=False)  # the response's appContext

    @property
    def granted(self) -> GrantedScopes:
        return GrantedScopes.parse(self.scope)

    @property
    def patient_reference(self) -> str | None:
        return f"Patient/{self.patient}" if self.patient else None

    @property
    def encounter_reference(self) -> str | None:
        return f"Encounter/{self.encounter}" if self.encounter else None

    def expires_within(self, seconds: float, now: float) -> bool:
        """True when the token expires in `seconds` or less (unknown expiry: never)."""
        return self.expires_at is not None and self.expires_at - now <= seconds

    def is_expired(self, now: float) -> bool:
        return self.expires_within(0, now)

    def authorization_header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def parse_token_response(
    response: httpx.Response,
    *,
    error_cls: type[SmartAuthError] = TokenResponseError,
    user_messages: Mapping[str, str] = OAUTH_ERROR_MESSAGES,
) -> TokenResponse:
    """Validate an HTTP response from a token endpoint. OAuth error bodies (RFC 6749 5.2)
    become `error_cls` with the error code and a readable message; the server's own
    error_description is kept out of `user_message` (it is untrusted text)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200:
        code = body.get("error") if isinstance(body, dict) else None
        code = code if isinstance(code, str) else None
        raise error_cls(
            f"token endpoint answered HTTP {response.status_code}" + (f" ({code})" if code else ""),
            error=code,
            user_message=user_messages.get(code or ""),
        )
    if not isinstance(body, dict):
        raise error_cls("token endpoint answered with something other than a JSON object")
    try:
        return TokenResponse.model_validate(body)
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors() if e["loc"]) or "body"
        raise error_cls(f"token response is invalid ({fields})") from None


def token_set_from_response(
    parsed: TokenResponse,
    *,
    now: float,
    requested_scope: str,
    fhir_user: str | None = None,
    previous: TokenSet | None = None,
) -> TokenSet:
    """Build a TokenSet. A missing `scope` means "as requested" (RFC 6749 5.1). On refresh,
    values the response leaves out (refresh token, context) carry over from `previous`."""

    def keep(new: Any, old: Any) -> Any:
        return new if new is not None else old

    prev = previous
    return TokenSet(
        access_token=parsed.access_token,
        token_type=parsed.token_type,
        expires_at=now + parsed.expires_in if parsed.expires_in is not None else None,
        scope=parsed.scope if parsed.scope is not None else requested_scope,
        refresh_token=keep(parsed.refresh_token, prev.refresh_token if prev else None),
        id_token=keep(parsed.id_token, prev.id_token if prev else None),
        fhir_user=keep(fhir_user, prev.fhir_user if prev else None),
        patient=keep(parsed.patient, prev.patient if prev else None),
        encounter=keep(parsed.encounter, prev.encounter if prev else None),
        need_patient_banner=keep(
            parsed.need_patient_banner, prev.need_patient_banner if prev else None
        ),
        smart_style_url=keep(parsed.smart_style_url, prev.smart_style_url if prev else None),
        intent=keep(parsed.intent, prev.intent if prev else None),
        tenant=keep(parsed.tenant, prev.tenant if prev else None),
        fhir_context=tuple(parsed.fhirContext) or (prev.fhir_context if prev else ()),
        app_context=keep(parsed.appContext, prev.app_context if prev else None),
    )
