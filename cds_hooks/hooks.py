"""Context definitions of the standard hooks we know, as data (from the hook pages of the
CDS Hooks catalogue: patient-view, order-select, order-sign, encounter-start,
encounter-discharge, appointment-book). Used to reject requests whose context lacks a
required field, and to check at start-up that prefetch templates use only context fields
that the hook marks as prefetch tokens. Unknown hooks are accepted with no context check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cds_hooks.models import FHIR_ID

_USER_ID_TYPES = frozenset({"Practitioner", "PractitionerRole", "Patient", "RelatedPerson"})


@dataclass(frozen=True)
class ContextField:
    name: str
    required: bool
    prefetch_token: bool
    kind: str  # "id" (FHIR id), "user" (ResourceType/id), "bundle", "array", "array_or_bundle"


@dataclass(frozen=True)
class HookDefinition:
    name: str
    fields: tuple[ContextField, ...]

    @property
    def prefetch_tokens(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields if f.prefetch_token)

    def context_problems(self, context: dict[str, Any]) -> list[str]:
        """Short, value-free descriptions of what is wrong with a request context."""
        problems: list[str] = []
        for f in self.fields:
            if f.name not in context:
                if f.required:
                    problems.append(f"context.{f.name} is required for {self.name}")
                continue
            if not _has_kind(context[f.name], f.kind):
                problems.append(f"context.{f.name} is not a valid {_KIND_TEXT[f.kind]}")
        return problems


_KIND_TEXT = {
    "id": "FHIR id",
    "user": "ResourceType/id reference",
    "bundle": "FHIR Bundle",
    "array": "array",
    "array_or_bundle": "Bundle or array",
}


def _has_kind(value: Any, kind: str) -> bool:
    if kind == "id":
        return isinstance(value, str) and FHIR_ID.fullmatch(value) is not None
    if kind == "user":
        if not isinstance(value, str) or value.count("/") != 1:
            return False
        rtype, rid = value.split("/")
        return rtype in _USER_ID_TYPES and FHIR_ID.fullmatch(rid) is not None
    if kind == "bundle":
        return isinstance(value, dict) and value.get("resourceType") == "Bundle"
    if kind == "array":
        return isinstance(value, list)
    if kind == "array_or_bundle":
        return isinstance(value, list) or _has_kind(value, "bundle")
    raise ValueError(f"unknown context field kind {kind}")


def _user(required: bool = True) -> ContextField:
    return ContextField("userId", required, True, "user")


def _patient() -> ContextField:
    return ContextField("patientId", True, True, "id")


def _encounter(required: bool = False) -> ContextField:
    return ContextField("encounterId", required, True, "id")


KNOWN_HOOKS: dict[str, HookDefinition] = {
    h.name: h
    for h in (
        HookDefinition("patient-view", (_user(), _patient(), _encounter())),
        HookDefinition(
            "order-select",
            (
                _user(),
                _patient(),
                _encounter(),
                ContextField("selections", True, False, "array"),
                ContextField("draftOrders", True, False, "bundle"),
            ),
        ),
        HookDefinition(
            "order-sign",
            (_user(), _patient(), _encounter(), ContextField("draftOrders", True, False, "bundle")),
        ),
        HookDefinition("encounter-start", (_user(), _patient(), _encounter(required=True))),
        HookDefinition("encounter-discharge", (_user(), _patient(), _encounter(required=True))),
        HookDefinition(
            "appointment-book",
            (
                _user(),
                _patient(),
                _encounter(),
                # Bundle in the R4 hook text; the STU3 example shows an array. Accept an object
                # or array here and let the service interpret it.
                ContextField("appointments", True, False, "array_or_bundle"),
            ),
        ),
    )
}


def hook_definition(hook: str) -> HookDefinition | None:
    return KNOWN_HOOKS.get(hook)
