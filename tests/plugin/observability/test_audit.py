"""Audit: the auditing gateway records every data interaction (references only); sinks fan
out without breaking the audited work; FHIR AuditEvents are written by a background job,
once, to the real FHIR server."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from plugin.config_loader import settings_from_mapping
from plugin.fhir.errors import FhirAuthError, FhirNotFound
from plugin.fhir.memory import InMemoryFhirGateway
from plugin.jobs.registry import Progress
from plugin.observability.audit import (
    AUDIT_EVENT_JOB,
    AuditingGateway,
    FanOutAuditSink,
    audit_event_handler,
)
from plugin.observability.logging import request_id_context
from plugin.services import build_services
from plugin.store.audit import AuditEntry, AuditOutcome
from plugin.store.jobs import JobStatus


class RecordingSink:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


class RefusingGateway(InMemoryFhirGateway):
    def read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        if resource_id == "secret":
            raise FhirAuthError("FHIR read refused", 403)
        return super().read(resource_type, resource_id)


def seeded() -> tuple[RefusingGateway, str]:
    memory = RefusingGateway()
    pid = memory.create({"resourceType": "Patient", "name": [{"family": "Doe"}]}).resource["id"]
    memory.create(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "x"},
            "subject": {"reference": f"Patient/{pid}"},
        }
    )
    return memory, pid


def test_reads_searches_and_writes_are_recorded_with_references_only() -> None:
    memory, pid = seeded()
    sink = RecordingSink()
    gateway = AuditingGateway(memory, sink, actor="Practitioner/7")
    with request_id_context("req-a"):
        gateway.read("Patient", pid)
        gateway.search("Observation", {"patient": pid})
        gateway.search("Observation", [("subject", f"Patient/{pid}")])
        created = gateway.create(
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "y"},
                "subject": {"reference": f"Patient/{pid}"},
            }
        )
        gateway.update({**created.resource, "status": "amended"})
    actions = [(e.action, e.outcome, e.resource_refs) for e in sink.entries]
    obs = created.reference
    assert actions == [
        ("read", AuditOutcome.SUCCESS, (f"Patient/{pid}",)),
        ("search", AuditOutcome.SUCCESS, (f"Patient/{pid}",)),
        ("search", AuditOutcome.SUCCESS, (f"Patient/{pid}",)),
        ("create", AuditOutcome.SUCCESS, (obs, f"Patient/{pid}")),
        ("update", AuditOutcome.SUCCESS, (obs, f"Patient/{pid}")),
    ]
    assert {(e.actor, e.request_id) for e in sink.entries} == {("Practitioner/7", "req-a")}


def test_failures_and_refusals_are_recorded_and_reraised() -> None:
    memory, _ = seeded()
    sink = RecordingSink()
    gateway = AuditingGateway(memory, sink, actor="client:cds")
    with pytest.raises(FhirNotFound):
        gateway.read("Patient", "nobody")
    with pytest.raises(FhirAuthError):
        gateway.read("Patient", "secret")
    assert [(e.outcome, e.resource_refs) for e in sink.entries] == [
        (AuditOutcome.FAILURE, ("Patient/nobody",)),
        (AuditOutcome.DENIED, ("Patient/secret",)),
    ]


def test_transactions_record_the_resources_written() -> None:
    memory, pid = seeded()
    sink = RecordingSink()
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:5b0a2f4e-0000-4000-8000-000000000001",
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "z"},
                    "subject": {"reference": f"Patient/{pid}"},
                },
                "request": {"method": "POST", "url": "Observation"},
            }
        ],
    }
    result = AuditingGateway(memory, sink, actor="system").transaction(bundle)
    assert sink.entries[0].action == "transaction"
    assert sink.entries[0].resource_refs == tuple(e.reference for e in result.entries)


def test_fan_out_keeps_going_when_a_sink_fails() -> None:
    class Broken:
        def record(self, entry: AuditEntry) -> None:
            raise OSError("disk full at /var/patient-Doe")

    errors: list[str] = []
    good = RecordingSink()
    fan_out = FanOutAuditSink([Broken(), good], on_error=errors.append)
    entry = AuditEntry(actor="system", action="read", outcome=AuditOutcome.SUCCESS)
    fan_out.record(entry)
    assert good.entries == [entry] and errors == ["OSError"]
    memory, pid = seeded()
    AuditingGateway(memory, fan_out, actor="system").read("Patient", pid)  # does not raise
    assert len(good.entries) == 2


@pytest.mark.integration
def test_audit_events_are_written_once_to_the_fhir_server(
    tmp_path: Path, fhir_base_url: str
) -> None:
    settings = settings_from_mapping(
        {
            "store": {"url": f"sqlite:///{tmp_path}/audit.sqlite3"},
            "fhir": {"base_url": fhir_base_url},
            "audit": {"fhir_audit_events": True},
            "jobs": {"worker_threads": 1, "poll_interval_s": 0.05},
        }
    )
    services = build_services(settings, start_workers=True)
    try:
        assert AUDIT_EVENT_JOB in services.handlers.kinds and services.worker is not None
        entry = AuditEntry(
            actor="Practitioner/99",
            action="read",
            outcome=AuditOutcome.SUCCESS,
            resource_refs=("Patient/123",),
            request_id="req-audit-1",
        )
        services.audit.record(entry)
        services.audit.record(entry)  # a repeat is the same job
        assert [e.id for e in services.store.audit.for_request("req-audit-1")] == [entry.id]
        job = services.store.jobs.get_by_key(f"audit-event:{entry.id}")
        assert job is not None
        deadline = time.monotonic() + 60
        while services.store.jobs.get(job.id).status != JobStatus.SUCCEEDED:  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "audit job did not finish"
            time.sleep(0.05)
        event_id = f"deepdr-audit-{entry.id}"
        stored = httpx.get(f"{fhir_base_url}/AuditEvent/{event_id}").json()
        assert stored["resourceType"] == "AuditEvent"
        assert stored["agent"][0]["who"]["reference"] == "Practitioner/99"
        assert stored["entity"][0]["what"]["reference"] == "Patient/123"
        # A retried run (a worker that died after the write) replaces, never duplicates.
        payload = services.store.jobs.get(job.id).payload  # type: ignore[union-attr]

        class NoProgress:
            job_id, attempt = job.id, 2

            def __call__(self, percent: int, message: str = "") -> None:
                return None

        progress: Progress = NoProgress()
        assert services.system_fhir is not None
        handler = audit_event_handler(lambda: services.system_fhir)  # type: ignore[arg-type,return-value]
        handler(payload, progress)
        found = httpx.get(f"{fhir_base_url}/AuditEvent", params={"_id": event_id}).json()
        assert len(found.get("entry", [])) == 1
    finally:
        services.close()
