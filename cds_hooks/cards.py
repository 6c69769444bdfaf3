"""Pure helpers for spec-valid cards, and `validate_response` to check a CDS Hooks response
(ours or anyone's) against the CDS Hooks 2.0 rules.

Card and suggestion uuids are uuid5 of a caller-provided key, so the same result always
yields the same card uuid (feedback about a card re-issued on a later hook call lands on
the same id). Keys must not contain patient identifiers in clear if they are ever logged;
uuid5 itself is one-way.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from cds_hooks.models import (
    SUMMARY_MAX_CHARS,
    Action,
    Card,
    CdsResponse,
    Coding,
    Indicator,
    Link,
    SelectionBehavior,
    Source,
    Suggestion,
)

#: Namespace for card/suggestion uuid5s (a fixed, random UUID: changing it changes every id).
CARD_NAMESPACE = uuid.UUID("6f1d3f8e-2b8a-4c7e-9a51-3d0c2f7b8e64")


def stable_uuid(key: str) -> str:
    return str(uuid.uuid5(CARD_NAMESPACE, key))


def fit_summary(text: str) -> str:
    """Collapse whitespace and, if needed, shorten at a word boundary with an ellipsis so
    the summary stays under 140 characters."""
    text = " ".join(text.split())
    if len(text) <= SUMMARY_MAX_CHARS:
        return text
    cut = text[: SUMMARY_MAX_CHARS - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.-") + "…"


def coding(system: str, code: str, display: str | None = None) -> Coding:
    return Coding(system=system, code=code, display=display)


def source(
    label: str, *, url: str | None = None, icon: str | None = None, topic: Coding | None = None
) -> Source:
    return Source(label=label, url=url, icon=icon, topic=topic)


def create_action(description: str, resource: Mapping[str, Any]) -> Action:
    return Action(type="create", description=description, resource=dict(resource))


def update_action(description: str, resource: Mapping[str, Any]) -> Action:
    return Action(type="update", description=description, resource=dict(resource))


def delete_action(description: str, resource_id: str) -> Action:
    return Action(type="delete", description=description, resource_id=resource_id)


def suggestion(
    key: str, label: str, actions: Iterable[Action] = (), *, is_recommended: bool | None = None
) -> Suggestion:
    return Suggestion(
        label=label,
        uuid=stable_uuid(f"suggestion:{key}"),
        is_recommended=is_recommended,
        actions=list(actions) or None,
    )


def smart_link(label: str, url: str, app_context: str | Mapping[str, Any] | None = None) -> Link:
    """A SMART launch link; a mapping appContext is sent as compact JSON text."""
    if isinstance(app_context, Mapping):
        app_context = json.dumps(app_context, separators=(",", ":"), sort_keys=True)
    return Link(label=label, url=url, type="smart", app_context=app_context)


def absolute_link(label: str, url: str) -> Link:
    return Link(label=label, url=url, type="absolute")


def card(
    key: str,
    summary: str,
    indicator: Indicator,
    card_source: Source,
    *,
    detail: str | None = None,
    suggestions: Iterable[Suggestion] = (),
    selection_behavior: SelectionBehavior | None = None,
    override_reasons: Iterable[Coding] = (),
    links: Iterable[Link] = (),
) -> Card:
    """A card with a stable uuid. Empty collections are omitted (the spec forbids []), and
    selectionBehavior defaults to at-most-one when there are suggestions."""
    suggestion_list = list(suggestions)
    if suggestion_list and selection_behavior is None:
        selection_behavior = "at-most-one"
    return Card(
        uuid=stable_uuid(f"card:{key}"),
        summary=fit_summary(summary),
        detail=detail or None,
        indicator=indicator,
        source=card_source,
        suggestions=suggestion_list or None,
        selection_behavior=selection_behavior,
        override_reasons=list(override_reasons) or None,
        links=list(links) or None,
    )


# ---------------------------------------------------------------------------- validation

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def validate_response(
    document: Mapping[str, Any] | CdsResponse, *, require_uuids: bool = False
) -> list[str]:
    """Problems with a CDS Service response body, as 'path: message' strings; [] if valid.

    Checks the CDS Hooks 2.0 rules: required fields, summary < 140 characters, indicator,
    selectionBehavior with suggestions, override reasons with display, link types and
    appContext only on smart links, action targets, no null or empty values (except an
    empty `cards` array). `require_uuids` adds our own hygiene: every card and suggestion
    has a UUID (needed for feedback), unique within the response.
    """
    doc = document.to_json() if isinstance(document, CdsResponse) else dict(document)
    problems: list[str] = []
    try:
        CdsResponse.model_validate(doc)
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(p) for p in error["loc"]) or "response"
            problems.append(f"{where}: {error['msg']}")
    problems.extend(_null_or_empty(doc, ""))
    if require_uuids and isinstance(doc.get("cards"), list):
        problems.extend(_uuid_problems(doc["cards"]))
    return problems


def response_problems(response: CdsResponse) -> list[str]:
    """Spec rules only (what the router enforces before answering an EHR)."""
    return validate_response(response)


def _null_or_empty(value: Any, path: str) -> list[str]:
    if isinstance(value, Mapping):
        children = [(f"{path}.{k}" if path else str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        children = [(f"{path}.{i}", v) for i, v in enumerate(value)]
    else:
        return []
    out: list[str] = []
    for sub, item in children:
        if item is None or item == "" or (isinstance(item, list | dict) and not item):
            if sub != "cards":  # "no guidance" is an empty cards array, explicitly allowed
                out.append(f"{sub}: null or empty values are not allowed")
            continue
        out.extend(_null_or_empty(item, sub))
    return out


def _uuid_problems(cards: list[Any]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for i, c in enumerate(cards):
        if not isinstance(c, Mapping):
            continue
        ids = [(f"cards.{i}.uuid", c.get("uuid"))]
        for j, s in enumerate(c.get("suggestions") or []):
            if isinstance(s, Mapping):
                ids.append((f"cards.{i}.suggestions.{j}.uuid", s.get("uuid")))
        for where, value in ids:
            if not isinstance(value, str) or not _UUID.fullmatch(value):
                out.append(f"{where}: a UUID is required")
            elif value in seen:
                out.append(f"{where}: duplicate uuid")
            else:
                seen.add(value)
    return out
