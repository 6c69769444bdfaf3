"""The CDS Hooks protocol engine without a web framework: authenticate, parse, resolve
prefetch, call the handler, check its answer. Takes bytes and returns typed results or
raises typed CdsErrors; the Flask blueprint only translates HTTP to and from this.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError

from cds_hooks.cards import response_problems
from cds_hooks.errors import (
    CdsAuthError,
    CdsError,
    InvalidServiceResponse,
    MalformedRequest,
    UnknownService,
    safe_trace,
)
from cds_hooks.hooks import hook_definition
from cds_hooks.models import CdsRequest, CdsResponse, DiscoveryResponse, FeedbackRequest
from cds_hooks.prefetch import PrefetchResolver
from cds_hooks.security import RequestAuthenticator, VerifiedClient
from cds_hooks.service import FeedbackStore, ServiceBinding

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IncomingCall:
    """What the edge knows about an HTTP call: the exact URL called (the JWT audience)
    and the Authorization header value."""

    url: str
    authorization: str | None


@dataclass(frozen=True)
class FeedbackReceipt:
    received: int
    stored: int

    def to_json(self) -> dict[str, int]:
        return {"received": self.received, "stored": self.stored}


class CdsHooksRouter:
    def __init__(
        self,
        bindings: Sequence[ServiceBinding],
        *,
        authenticator: RequestAuthenticator,
        resolver: PrefetchResolver,
        feedback_store: FeedbackStore,
        require_auth_for_discovery: bool = True,
    ) -> None:
        self._by_id: dict[str, dict[str, ServiceBinding]] = {}
        for binding in bindings:
            hooks = self._by_id.setdefault(binding.service.id, {})
            if binding.service.hook in hooks:
                raise ValueError(f"service {binding.service.id!r} is bound twice to one hook")
            hooks[binding.service.hook] = binding
        self._bindings = tuple(bindings)
        self._auth = authenticator
        self._resolver = resolver
        self._feedback = feedback_store
        self._auth_discovery = require_auth_for_discovery

    def service_ids(self) -> frozenset[str]:
        return frozenset(self._by_id)

    def discovery(self, call: IncomingCall) -> DiscoveryResponse:
        if self._auth_discovery:
            self._authenticate(call)
        return DiscoveryResponse(services=[b.service.descriptor() for b in self._bindings])

    def call_service(
        self, call: IncomingCall, service_id: str, read_body: Callable[[], bytes]
    ) -> CdsResponse:
        """`read_body` is called only once the caller is authenticated and the service
        exists, so unauthenticated callers cannot make us read large bodies."""
        client = self._authenticate(call)
        hooks = self._by_id.get(service_id)
        if hooks is None:
            raise UnknownService(service_id)
        request = _parse(CdsRequest, read_body())
        binding = hooks.get(request.hook)
        if binding is None:
            raise MalformedRequest(f"this service is not invoked on the {request.hook} hook")
        definition = hook_definition(request.hook)
        if definition is not None:
            problems = definition.context_problems(request.context)
            if problems:
                raise MalformedRequest("; ".join(problems))
        service = binding.service
        data = self._resolver.resolve(service.templates, service.required_prefetch, request)
        try:
            response = binding.handler.handle(request, data)
        except CdsError:
            raise
        except Exception as exc:
            # The reason stays generic; the log names the service and call, not the patient.
            log.error(
                "CDS service %s failed (hookInstance %s, iss %s): %s",
                service.id,
                request.hook_instance,
                client.iss,
                safe_trace(exc),
            )
            raise CdsError("internal error in the CDS service") from None
        problems = response_problems(response)
        if problems:
            log.error("CDS service %s produced an invalid response: %s", service.id, problems)
            raise InvalidServiceResponse("the CDS service produced an invalid response")
        return response

    def feedback(
        self, call: IncomingCall, service_id: str, read_body: Callable[[], bytes]
    ) -> FeedbackReceipt:
        client = self._authenticate(call)
        if service_id not in self._by_id:
            raise UnknownService(service_id)
        document = _parse(FeedbackRequest, read_body())
        stored = sum(
            self._feedback.record(service_id, item, client.iss) for item in document.feedback
        )
        return FeedbackReceipt(received=len(document.feedback), stored=stored)

    def _authenticate(self, call: IncomingCall) -> VerifiedClient:
        try:
            return self._auth.authenticate(call.authorization, call.url)
        except CdsAuthError as exc:
            log.info("CDS call to %s refused: %s", call.url, exc.reason)
            raise


_Doc = TypeVar("_Doc", CdsRequest, FeedbackRequest)


def _parse(model: type[_Doc], body: bytes) -> _Doc:
    try:
        document: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedRequest("body is not valid JSON") from None
    if not isinstance(document, dict):
        raise MalformedRequest("body must be a JSON object")
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise MalformedRequest(_short_reason(exc)) from None


def _short_reason(exc: ValidationError) -> str:
    """First few validation problems as 'field: message', without echoing input values."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:3]:
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
