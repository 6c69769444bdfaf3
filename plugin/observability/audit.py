"""Audit of reads and writes: one `AuditSink` interface, several destinations.

    sink = services.audit                     # fan-out: store trail + FHIR AuditEvents
    gateway = AuditingGateway(HttpFhirGateway(...), sink, actor="Practitioner/123")
    gateway.read("Patient", "123")            # recorded: read, success, Patient/123

`AuditingGateway` wraps any FhirGateway, so the gateway itself needs no audit code: every
read, search, create, update and transaction through it is recorded with the actor, the
outcome, the resources touched (references only) and the current request id.

Destinations: the store's AuditTrail (`plugin.store.audit`, which already satisfies
AuditSink) and, when `audit.fhir_audit_events` is on, `JobAuditEventSink`, which turns each
record into a background job writing a FHIR AuditEvent (PUT with an id derived from the
record id: retried, never duplicated; never in the request's path).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from fhir_mappers.audit_event import build_audit_event
from plugin.fhir.errors import FhirAuthError, FhirError
from plugin.fhir.gateway import (
    JSON,
    CreateResult,
    FhirGateway,
    SearchParams,
    SearchResult,
    TransactionResult,
    normalise_params,
)
from plugin.jobs.queue import JobQueue
from plugin.jobs.registry import Handler, Progress
from plugin.observability.logging import current_request_id
from plugin.store.audit import AuditEntry, AuditOutcome
from plugin.store.clock import from_ms, to_ms, utc_now

log = logging.getLogger(__name__)

AUDIT_EVENT_JOB = "fhir-audit-event"
_REFERENCE = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
# Search parameters whose value names the patient whose data is searched.
_PATIENT_PARAMS = ("patient", "subject", "_id")


class AuditSink(Protocol):
    def record(self, entry: AuditEntry) -> object:
        """Keeps the entry. May raise; callers that must not fail use FanOutAuditSink."""
        ...


class NullAuditSink:
    def record(self, entry: AuditEntry) -> None:
        return None


class FanOutAuditSink:
    """Gives each entry to every sink; a failing sink is logged (type only) and reported
    through `on_error`, and never breaks the clinical work being audited."""

    def __init__(
        self, sinks: Sequence[AuditSink], on_error: Callable[[str], None] | None = None
    ) -> None:
        self.sinks = tuple(sinks)
        self._on_error = on_error

    def record(self, entry: AuditEntry) -> None:
        for sink in self.sinks:
            try:
                sink.record(entry)
            except Exception as exc:
                log.error("audit sink %s failed: %s", type(sink).__name__, type(exc).__name__)
                if self._on_error is not None:
                    self._on_error(type(exc).__name__)


class JobAuditEventSink:
    """Queues one `fhir-audit-event` job per entry (idempotent on the entry id)."""

    def __init__(self, queue: JobQueue, source_name: str = "deepdr-fhir") -> None:
        self._queue = queue
        self._source_name = source_name

    def record(self, entry: AuditEntry) -> None:
        payload: dict[str, Any] = {
            "id": entry.id,
            "actor": entry.actor,
            "action": entry.action,
            "outcome": entry.outcome.value,
            "resource_refs": list(entry.resource_refs),
            "request_id": entry.request_id,
            "at_ms": to_ms(entry.at) if entry.at else None,
            "source_name": self._source_name,
        }
        self._queue.enqueue(AUDIT_EVENT_JOB, payload, idempotency_key=f"audit-event:{entry.id}")


def audit_event_handler(gateway: Callable[[], FhirGateway]) -> Handler:
    """The job handler: builds the AuditEvent and PUTs it (update as create)."""

    def handle(payload: dict[str, Any], progress: Progress) -> dict[str, Any]:
        at_ms = payload.get("at_ms")
        event = build_audit_event(
            record_id=payload["id"],
            action=payload["action"],
            outcome=payload["outcome"],
            recorded=from_ms(int(at_ms)) if at_ms is not None else utc_now(),
            actor=payload["actor"],
            resource_refs=payload.get("resource_refs") or (),
            request_id=payload.get("request_id"),
            source_name=payload.get("source_name") or "deepdr-fhir",
        )
        gateway().update(event)
        return {"audit_event": f"AuditEvent/{event['id']}"}

    return handle


# --- the auditing gateway -------------------------------------------------------------------


class AuditingGateway:
    """A FhirGateway that records every data interaction in `sink`. `actor`: who the
    calls are made for ("Practitioner/123", "client:<id>", "system")."""

    def __init__(
        self,
        inner: FhirGateway,
        sink: AuditSink,
        actor: str,
        request_id: Callable[[], str | None] = current_request_id,
    ) -> None:
        self.inner = inner
        self.base_url = inner.base_url
        self._sink = sink
        self._actor = actor
        self._request_id = request_id

    def read(self, resource_type: str, resource_id: str) -> JSON:
        refs = [f"{resource_type}/{resource_id}"]
        resource = self._audited("read", refs, lambda: self.inner.read(resource_type, resource_id))
        return resource

    def search(
        self, resource_type: str, params: SearchParams = (), *, max_pages: int = 10
    ) -> SearchResult:
        refs = _searched_patients(resource_type, params)
        return self._audited(
            "search", refs, lambda: self.inner.search(resource_type, params, max_pages=max_pages)
        )

    def search_bundle(self, resource_type: str, params: SearchParams = ()) -> JSON:
        refs = _searched_patients(resource_type, params)
        return self._audited(
            "search", refs, lambda: self.inner.search_bundle(resource_type, params)
        )

    def create(self, resource: JSON, *, if_none_exist: str | None = None) -> CreateResult:
        try:
            result = self.inner.create(resource, if_none_exist=if_none_exist)
        except FhirError as exc:
            self._record("create", _outcome(exc), _patients_of(resource))
            raise
        self._record("create", AuditOutcome.SUCCESS, [result.reference, *_patients_of(resource)])
        return result

    def update(self, resource: JSON, *, if_match: str | None = None) -> JSON:
        refs = [_ref_of(resource), *_patients_of(resource)]
        return self._audited("update", refs, lambda: self.inner.update(resource, if_match=if_match))

    def transaction(self, bundle: JSON) -> TransactionResult:
        try:
            result = self.inner.transaction(bundle)
        except FhirError as exc:
            self._record("transaction", _outcome(exc), [])
            raise
        refs = [e.reference for e in result.entries if e.reference]
        self._record("transaction", AuditOutcome.SUCCESS, refs)
        return result

    def capabilities(self) -> JSON:
        return self.inner.capabilities()  # no patient data: not audited

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> AuditingGateway:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _audited(self, action: str, refs: Sequence[str | None], call: Callable[[], Any]) -> Any:
        try:
            result = call()
        except FhirError as exc:
            self._record(action, _outcome(exc), refs)
            raise
        extra = _patients_of(result) if isinstance(result, dict) else []
        self._record(action, AuditOutcome.SUCCESS, [*refs, *extra])
        return result

    def _record(self, action: str, outcome: AuditOutcome, refs: Sequence[str | None]) -> None:
        unique = list(dict.fromkeys(r for r in refs if r and _REFERENCE.match(r)))
        entry = AuditEntry(
            actor=self._actor,
            action=action,
            outcome=outcome,
            resource_refs=tuple(unique),
            request_id=self._request_id(),
        )
        try:
            self._sink.record(entry)
        except Exception as exc:  # the sink should be a FanOutAuditSink; be safe anyway
            log.error("audit record failed: %s", type(exc).__name__)


def _outcome(exc: FhirError) -> AuditOutcome:
    return AuditOutcome.DENIED if isinstance(exc, FhirAuthError) else AuditOutcome.FAILURE


def _ref_of(resource: JSON) -> str | None:
    rid = resource.get("id")
    rtype = resource.get("resourceType")
    return f"{rtype}/{rid}" if isinstance(rid, str) and isinstance(rtype, str) else None


def _patients_of(resource: Any) -> list[str]:
    if not isinstance(resource, dict):
        return []
    if resource.get("resourceType") == "Patient":
        ref = _ref_of(resource)
        return [ref] if ref else []
    refs = []
    for key in ("subject", "patient"):
        value = resource.get(key)
        ref = value.get("reference") if isinstance(value, dict) else None
        if isinstance(ref, str) and ref.startswith("Patient/"):
            refs.append(ref)
    return refs


def _searched_patients(resource_type: str, params: SearchParams) -> list[str]:
    refs = []
    try:
        pairs = normalise_params(params)
    except FhirError:
        return []
    for name, value in pairs:
        base_name = name.split(":", 1)[0]
        if base_name not in _PATIENT_PARAMS:
            continue
        if base_name == "_id" and resource_type != "Patient":
            continue
        for item in value.split(","):
            if _REFERENCE.match(item) and item.startswith("Patient/"):
                refs.append(item)
            elif _ID.match(item) and base_name in ("patient", "_id"):
                refs.append(f"Patient/{item}")
    return refs
