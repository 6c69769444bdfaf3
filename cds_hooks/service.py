"""CDS Services as data, and the small Protocols an application implements to plug in:

- `CdsService`: what discovery advertises (id, hook, title, description, prefetch
  templates, usageRequirements) plus which prefetch keys the service cannot run without;
- `CdsServiceHandler`: `handle(request, data) -> CdsResponse`, plain Python, no Flask;
- `FeedbackStore`: where feedback goes; must be idempotent on repeats.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cds_hooks.errors import TemplateError
from cds_hooks.hooks import hook_definition
from cds_hooks.models import CdsRequest, CdsResponse, CdsServiceDescriptor, Feedback
from cds_hooks.prefetch import PrefetchData
from cds_hooks.templates import PrefetchTemplate, parse_template

_SERVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class CdsService(BaseModel):
    """One CDS Service definition. Templates are checked when the object is built."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_min_length=1)

    id: str
    hook: str
    description: str
    title: str | None = None
    prefetch: dict[str, str] = Field(default_factory=dict)
    usage_requirements: str | None = None
    #: Prefetch keys without which the service cannot answer: 412 when unobtainable.
    required_prefetch: frozenset[str] = frozenset()

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not _SERVICE_ID.fullmatch(self.id):
            raise ValueError(f"service id {self.id!r} must be a URL-safe token")
        unknown = self.required_prefetch - set(self.prefetch)
        if unknown:
            raise ValueError(f"required_prefetch names undeclared keys: {sorted(unknown)}")
        hook = hook_definition(self.hook)
        for key, text in self.prefetch.items():
            try:
                template = parse_template(text)
            except TemplateError as exc:
                raise ValueError(f"prefetch {key!r}: {exc}") from None
            if hook is not None:
                bad = template.context_fields - hook.prefetch_tokens
                if bad:
                    raise ValueError(
                        f"prefetch {key!r}: {self.hook} has no prefetch token "
                        + ", ".join(f"context.{b}" for b in sorted(bad))
                    )
        return self

    @cached_property
    def templates(self) -> dict[str, PrefetchTemplate]:
        return {key: parse_template(text) for key, text in self.prefetch.items()}

    def descriptor(self) -> CdsServiceDescriptor:
        return CdsServiceDescriptor(
            hook=self.hook,
            title=self.title,
            description=self.description,
            id=self.id,
            prefetch=dict(self.prefetch) or None,
            usage_requirements=self.usage_requirements,
        )


class CdsServiceHandler(Protocol):
    """The decision logic of one service. Raise cds_hooks.errors.CdsServiceError for an
    answer other than 200; anything else unexpected becomes a 500 with a generic reason."""

    def handle(self, request: CdsRequest, data: PrefetchData) -> CdsResponse: ...


@dataclass(frozen=True)
class FunctionHandler:
    """Adapts a plain function `(request, data) -> CdsResponse` to CdsServiceHandler."""

    function: Callable[[CdsRequest, PrefetchData], CdsResponse]

    def handle(self, request: CdsRequest, data: PrefetchData) -> CdsResponse:
        return self.function(request, data)


@dataclass(frozen=True)
class ServiceBinding:
    service: CdsService
    handler: CdsServiceHandler


# ---------------------------------------------------------------------------- feedback


@dataclass(frozen=True)
class StoredFeedback:
    service_id: str
    card: str
    outcome: str
    outcome_timestamp: datetime
    accepted_suggestions: tuple[str, ...]
    override_reason: dict[str, Any] | None
    issuer: str | None


def feedback_identity(service_id: str, item: Feedback) -> tuple[str, str, str, str]:
    """What makes two feedback items "the same report": a CDS Client may resend one."""
    return (service_id, item.card, item.outcome, item.outcome_timestamp.isoformat())


class FeedbackStore(Protocol):
    def record(self, service_id: str, item: Feedback, issuer: str | None) -> bool:
        """Store one feedback item; return False (and store nothing) when the same
        card + outcome + outcomeTimestamp was already stored for this service."""
        ...


class InMemoryFeedbackStore:
    """A FeedbackStore in memory (tests, demo); the plugin provides a persistent one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str, str, str], StoredFeedback] = {}

    def record(self, service_id: str, item: Feedback, issuer: str | None) -> bool:
        key = feedback_identity(service_id, item)
        stored = StoredFeedback(
            service_id=service_id,
            card=item.card,
            outcome=item.outcome,
            outcome_timestamp=item.outcome_timestamp,
            accepted_suggestions=tuple(s.id for s in item.accepted_suggestions or []),
            override_reason=item.override_reason.to_json() if item.override_reason else None,
            issuer=issuer,
        )
        with self._lock:
            if key in self._items:
                return False
            self._items[key] = stored
            return True

    def all(self) -> list[StoredFeedback]:
        with self._lock:
            return list(self._items.values())
