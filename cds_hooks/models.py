"""Pydantic models of the CDS Hooks 2.0 wire format (https://cds-hooks.hl7.org/2.0/).

Python names are snake_case; the JSON names (aliases) are the spec's camelCase. Outgoing
documents are dumped with `to_json()`, which omits absent optional fields: the spec forbids
null and empty values unless stated otherwise. Incoming documents keep unknown fields
(`extension` and later additions) so newer clients are not rejected.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

SUMMARY_MAX_CHARS = 139  # the spec: "<140-character summary"
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
RELATIVE_REFERENCE = re.compile(r"[A-Z][A-Za-z]{1,63}/[A-Za-z0-9\-.]{1,64}")
ABSOLUTE_URL = re.compile(r"https?://[^\s/?#]+[^\s]*", re.IGNORECASE)

Indicator = Literal["info", "warning", "critical"]
SelectionBehavior = Literal["at-most-one", "any"]
ActionType = Literal["create", "update", "delete"]
LinkType = Literal["absolute", "smart"]
Outcome = Literal["accepted", "overridden"]


class _Wire(BaseModel):
    """Base of the response-side models: frozen, strict about unknown fields."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="forbid",
        str_min_length=1,
    )

    #: Reserved by the spec for pre-coordinated custom data, on any object.
    extension: dict[str, Any] | None = Field(default=None, min_length=1)

    def to_json(self) -> dict[str, Any]:
        """The JSON document as sent on the wire (aliases, absent fields omitted)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class _Incoming(_Wire):
    """Base of request-side models: unknown fields (e.g. `extension`) are kept."""

    model_config = ConfigDict(extra="allow")


def _check_absolute_url(value: str | None) -> str | None:
    if value is not None and not ABSOLUTE_URL.fullmatch(value):
        raise ValueError("must be an absolute http(s) URL")
    return value


# ---------------------------------------------------------------------------- data types


class Coding(_Wire):
    """CDS Hooks Coding: code and system required; display required for override reasons."""

    code: str
    system: str
    display: str | None = None


# ---------------------------------------------------------------------------- discovery


class CdsServiceDescriptor(_Wire):
    """One entry of the discovery response's `services` array."""

    model_config = ConfigDict(extra="allow")

    hook: str
    title: str | None = None
    description: str
    id: str
    prefetch: dict[str, str] | None = Field(default=None, min_length=1)
    usage_requirements: str | None = None


class DiscoveryResponse(_Wire):
    services: list[CdsServiceDescriptor]


# ---------------------------------------------------------------------------- request


class FhirAuthorization(_Incoming):
    """`fhirAuthorization`: an OAuth 2.0 bearer token for the CDS Client's FHIR server.
    The token is a SecretStr so it never appears in a repr or a log line."""

    model_config = ConfigDict(alias_generator=None)

    access_token: SecretStr
    token_type: str
    expires_in: int = Field(ge=0)
    scope: str
    subject: str
    patient: str | None = None

    @field_validator("access_token")
    @classmethod
    def _token_not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("must not be empty")
        return value

    @field_validator("token_type")
    @classmethod
    def _bearer(cls, value: str) -> str:
        # OAuth token types are case-insensitive (RFC 6749 section 5.1); CDS Hooks fixes Bearer.
        if value.lower() != "bearer":
            raise ValueError("must be Bearer")
        return "Bearer"


class CdsRequest(_Incoming):
    """The body of POST {baseUrl}/cds-services/{id}."""

    hook: str
    hook_instance: str
    fhir_server: str | None = None
    fhir_authorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, dict[str, Any] | None] | None = None

    @field_validator("hook_instance")
    @classmethod
    def _uuid(cls, value: str) -> str:
        try:
            uuid.UUID(value)
        except ValueError:
            raise ValueError("must be a UUID") from None
        return value

    @field_validator("fhir_server")
    @classmethod
    def _server_url(cls, value: str | None) -> str | None:
        value = _check_absolute_url(value)
        return value.rstrip("/") if value else value

    @field_validator("prefetch")
    @classmethod
    def _prefetch_values_are_resources(
        cls, value: dict[str, dict[str, Any] | None] | None
    ) -> dict[str, dict[str, Any] | None] | None:
        for key, item in (value or {}).items():
            if item is not None and not isinstance(item.get("resourceType"), str):
                raise ValueError(f"prefetch '{key}' is neither a FHIR resource nor null")
        return value

    @model_validator(mode="after")
    def _server_with_authorization(self) -> Self:
        if self.fhir_authorization is not None and self.fhir_server is None:
            raise ValueError("fhirServer is required when fhirAuthorization is present")
        return self

    @property
    def access_token(self) -> str | None:
        auth = self.fhir_authorization
        return auth.access_token.get_secret_value() if auth else None


# ---------------------------------------------------------------------------- response


class Source(_Wire):
    label: str
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None

    @field_validator("url", "icon")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return _check_absolute_url(value)


class Action(_Wire):
    """A suggestion action or a system action. `description` is required inside a
    suggestion (checked there) and optional for system actions."""

    type: ActionType
    description: str | None = None
    resource: dict[str, Any] | None = None
    resource_id: str | None = None

    @model_validator(mode="after")
    def _target(self) -> Self:
        if self.resource is not None and not isinstance(self.resource.get("resourceType"), str):
            raise ValueError("resource must be a FHIR resource (resourceType missing)")
        if self.type in ("create", "update") and self.resource is None:
            raise ValueError(f"a {self.type} action needs a resource")
        if self.type == "delete" and self.resource_id is None and self.resource is None:
            raise ValueError("a delete action needs a resourceId")
        if self.resource_id is not None and not RELATIVE_REFERENCE.fullmatch(self.resource_id):
            raise ValueError("resourceId must be a relative reference like ServiceRequest/123")
        return self


class Suggestion(_Wire):
    label: str
    uuid: str | None = None
    is_recommended: bool | None = None
    actions: list[Action] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _described(self) -> Self:
        if any(action.description is None for action in self.actions or []):
            raise ValueError("every suggestion action needs a description")
        return self


class Link(_Wire):
    label: str
    url: str
    type: LinkType
    app_context: str | None = None
    autolaunchable: bool | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_absolute_url(value) or value

    @model_validator(mode="after")
    def _app_context_only_for_smart(self) -> Self:
        if self.app_context is not None and self.type != "smart":
            raise ValueError("appContext is only valid on smart links")
        return self


class Card(_Wire):
    uuid: str | None = None
    summary: str = Field(max_length=SUMMARY_MAX_CHARS)
    detail: str | None = None
    indicator: Indicator
    source: Source
    suggestions: list[Suggestion] | None = Field(default=None, min_length=1)
    selection_behavior: SelectionBehavior | None = None
    override_reasons: list[Coding] | None = Field(default=None, min_length=1)
    links: list[Link] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _card_rules(self) -> Self:
        if self.suggestions and self.selection_behavior is None:
            raise ValueError("selectionBehavior is required when suggestions are present")
        if self.selection_behavior is not None and not self.suggestions:
            raise ValueError("selectionBehavior without suggestions")
        recommended = sum(1 for s in self.suggestions or [] if s.is_recommended)
        if self.selection_behavior == "at-most-one" and recommended > 1:
            raise ValueError("at most one suggestion may be recommended with at-most-one")
        if any(reason.display is None for reason in self.override_reasons or []):
            raise ValueError("every override reason needs a display")
        ids = [s.uuid for s in self.suggestions or [] if s.uuid is not None]
        if len(ids) != len(set(ids)):
            raise ValueError("suggestion uuids must be unique within a card")
        return self


class CdsResponse(_Wire):
    cards: list[Card]
    system_actions: list[Action] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _unique_card_ids(self) -> Self:
        ids = [card.uuid for card in self.cards if card.uuid is not None]
        if len(ids) != len(set(ids)):
            raise ValueError("card uuids must be unique within a response")
        return self


# ---------------------------------------------------------------------------- feedback


class AcceptedSuggestion(_Incoming):
    id: str


class OverrideReason(_Incoming):
    reason: Coding | None = None
    user_comment: str | None = None


class Feedback(_Incoming):
    """One feedback item. `user_comment` is free text a clinician typed: never log it."""

    card: str
    outcome: Outcome
    accepted_suggestions: list[AcceptedSuggestion] | None = Field(default=None, min_length=1)
    override_reason: OverrideReason | None = None
    outcome_timestamp: AwareDatetime

    @field_validator("outcome_timestamp")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _outcome_rules(self) -> Self:
        if self.outcome == "accepted" and not self.accepted_suggestions:
            raise ValueError("acceptedSuggestions is required for accepted outcomes")
        if self.outcome == "overridden" and self.accepted_suggestions:
            raise ValueError("acceptedSuggestions is only valid for accepted outcomes")
        if self.outcome == "accepted" and self.override_reason is not None:
            raise ValueError("overrideReason is only valid for overridden outcomes")
        return self


class FeedbackRequest(_Incoming):
    feedback: list[Feedback] = Field(min_length=1)
