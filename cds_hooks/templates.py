"""Prefetch templates (CDS Hooks 2.0 "Prefetch Template" and "Prefetch tokens").

A template is a relative FHIR read or search URL with `{{token}}` placeholders. Tokens, per
2.0: `context.<field>` (a root-level context field with a primitive value) or one of the
user identifiers `userPractitionerId`, `userPractitionerRoleId`, `userPatientId`,
`userRelatedPersonId` (derived from `context.userId`). We also accept the relative-date
tokens `{{today()}}`, `{{today() - 90 days}}`, `{{today() + 1 day}}` from the later CDS
Hooks draft; a 2.0 CDS Client may not expand them, so a service should use them only for
keys it can fetch itself.

Templates are parsed once, when a service is defined, so a typo fails at start-up.
Rendering percent-encodes every substituted value, so a context value can never add a
query parameter or path segment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

from cds_hooks.errors import TemplateError
from cds_hooks.models import FHIR_ID, RELATIVE_REFERENCE

USER_TOKENS: dict[str, str] = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}

_TOKEN = re.compile(r"\{\{(.*?)\}\}")
_CONTEXT_TOKEN = re.compile(r"context\.([A-Za-z][A-Za-z0-9_]*)")
_TODAY_TOKEN = re.compile(r"today\(\)(?:\s*([+-])\s*(\d{1,5})\s+days?)?")
_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")
_FORBIDDEN_LITERAL = re.compile(r"[\s#{}]")


class TokenUnresolvable(Exception):
    """The context lacks what a token needs; the template cannot be rendered for this call.
    The message names the token only, never a value."""


@dataclass(frozen=True)
class Token:
    kind: str  # "context" | "user" | "today"
    name: str  # context field name, user token name, or "today"
    offset_days: int = 0
    in_query: bool = False
    whole_template: bool = False


@dataclass(frozen=True)
class PrefetchTemplate:
    text: str
    parts: tuple[str | Token, ...]

    @property
    def tokens(self) -> tuple[Token, ...]:
        return tuple(p for p in self.parts if isinstance(p, Token))

    @property
    def context_fields(self) -> frozenset[str]:
        """Context fields the template reads (userId for user tokens)."""
        names = {t.name for t in self.tokens if t.kind == "context"}
        if any(t.kind == "user" for t in self.tokens):
            names.add("userId")
        return frozenset(names)

    def render(self, context: Mapping[str, Any], today: date) -> str:
        """The relative FHIR URL for this context. Raises TokenUnresolvable."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = _token_value(part, context, today)
            out.append(_encode(value, part))
        return "".join(out)


def parse_template(text: str) -> PrefetchTemplate:
    """Parse and check a prefetch template; raise TemplateError with the reason."""
    if not text or text != text.strip():
        raise TemplateError("a prefetch template must be a non-empty relative URL")
    path = text.split("?", 1)[0]
    if ":" in path or text.startswith("/"):
        raise TemplateError(f"prefetch template must be relative to the FHIR base: {text!r}")
    parts: list[str | Token] = []
    pos = 0
    query_at = _query_start(text)
    matches = list(_TOKEN.finditer(text))
    for m in matches:
        literal = text[pos : m.start()]
        _check_literal(literal, text)
        if literal:
            parts.append(literal)
        whole = len(matches) == 1 and m.start() == 0 and m.end() == len(text)
        in_query = query_at is not None and m.start() > query_at
        parts.append(_parse_token(m.group(1).strip(), text, in_query, whole))
        pos = m.end()
    tail = text[pos:]
    _check_literal(tail, text)
    if tail:
        parts.append(tail)
    first = parts[0]
    if isinstance(first, str):
        rtype = re.split(r"[/?]", first, maxsplit=1)[0]
        if not _RESOURCE_TYPE.fullmatch(rtype):
            raise TemplateError(f"prefetch template must start with a resource type: {text!r}")
    elif not (first.whole_template and first.kind == "context"):
        raise TemplateError(f"prefetch template must start with a resource type: {text!r}")
    return PrefetchTemplate(text=text, parts=tuple(parts))


def _query_start(text: str) -> int | None:
    # The "?" that starts the query, ignoring any inside tokens.
    stripped = _TOKEN.sub(lambda m: "x" * len(m.group(0)), text)
    idx = stripped.find("?")
    return idx if idx >= 0 else None


def _check_literal(literal: str, text: str) -> None:
    if _FORBIDDEN_LITERAL.search(literal):
        raise TemplateError(f"unbalanced braces, whitespace or '#' in prefetch template {text!r}")


def _parse_token(expr: str, text: str, in_query: bool, whole: bool) -> Token:
    if m := _CONTEXT_TOKEN.fullmatch(expr):
        return Token("context", m.group(1), in_query=in_query, whole_template=whole)
    if expr in USER_TOKENS:
        return Token("user", expr, in_query=in_query, whole_template=whole)
    if m := _TODAY_TOKEN.fullmatch(expr):
        days = int(m.group(2) or 0) * (-1 if m.group(1) == "-" else 1)
        return Token("today", "today", offset_days=days, in_query=in_query, whole_template=whole)
    raise TemplateError(f"unsupported prefetch token {{{{{expr}}}}} in {text!r}")


def _token_value(token: Token, context: Mapping[str, Any], today: date) -> str:
    if token.kind == "today":
        return (today + timedelta(days=token.offset_days)).isoformat()
    if token.kind == "user":
        user = context.get("userId")
        wanted = USER_TOKENS[token.name]
        if not isinstance(user, str) or "/" not in user:
            raise TokenUnresolvable(f"{{{{{token.name}}}}} needs context.userId")
        rtype, _, rid = user.partition("/")
        if rtype != wanted or not FHIR_ID.fullmatch(rid):
            raise TokenUnresolvable(f"the current user is not a {wanted}")
        return rid
    if token.name not in context:
        raise TokenUnresolvable(f"context.{token.name} is absent")
    value = context[token.name]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TokenUnresolvable(f"context.{token.name} is not a primitive value")


def _encode(value: str, token: Token) -> str:
    if token.whole_template:
        # "{{context.userId}}" is a read of e.g. Practitioner/abc: only a reference will do.
        if not RELATIVE_REFERENCE.fullmatch(value):
            raise TokenUnresolvable(f"context.{token.name} is not a ResourceType/id reference")
        return value
    if token.in_query:
        return quote(value, safe="/")  # a reference value like Patient/1 may keep its slash
    return quote(value, safe="")
