"""The `screening` job through the real queue and worker (SQLite store): result, progress,
idempotent enqueue, no token in the payload, and how failures end (retry or not)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest

from models.advice import Lang
from models.clinical_facts import Population
from models.grader.result import ModelInfo
from plugin.config import AdviceConfig, BearerFhirAuth, FhirSettings, Settings
from plugin.config_loader import settings_from_mapping
from plugin.fhir.memory import InMemoryFhirGateway
from plugin.jobs import HandlerRegistry, JobQueue, Worker
from plugin.store import Store
from plugin.store.jobs import JobStatus
from plugin.workflow import ImageProblem, ImagingErrors, NoImages, ScreeningService
from plugin.workflow.grader import GRADER_EXTENSION
from plugin.workflow.jobs import (
    SCREENING_JOB,
    ScreeningJob,
    enqueue_screening,
    job_error,
    screening_handler,
    screening_job_handlers,
    screening_job_key,
)

MODEL = ModelInfo(name="fake-grader", version="1.0")
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def fake_services(
    settings: Settings,
    gateway: Any,
    store: Store,
    *,
    grader: Any = None,
    system_token: Callable[[], str | None] | None = None,
) -> Any:
    """What screening_job_handlers reads of plugin.services.Services."""
    return SimpleNamespace(
        settings=settings,
        system_fhir=gateway,
        system_token=system_token,
        store=store,
        metrics=SimpleNamespace(observe_grading=lambda model, seconds, outcome: None),
        audit=store.audit,
        extensions={GRADER_EXTENSION: grader} if grader is not None else {},
    )


def run_jobs(store: Store, handlers: HandlerRegistry) -> None:
    Worker(store.jobs, handlers).run_until_idle()


def setup(kit: Any, store: Store, gateway: Any) -> tuple[JobQueue, HandlerRegistry, Any]:
    grader = kit.FakeGrader()

    def make_service(job: ScreeningJob) -> ScreeningService:
        return ScreeningService(gateway, store=store, grader=grader, clock=lambda: NOW)

    handlers = HandlerRegistry()
    handlers.register(SCREENING_JOB, screening_handler(make_service))
    return JobQueue(store.jobs, handlers), handlers, grader


def test_a_screening_job_runs_once_and_records_its_result(
    kit: Any, store: Store, gateway: Any
) -> None:
    queue, handlers, grader = setup(kit, store, gateway)
    rec = kit.make_record(gateway, {"right": (150, 0, 0), "left": (20, 0, 0)})
    request = ScreeningJob(patient_ref=rec.patient_ref, fhir_base=gateway.base_url + "/")
    job = enqueue_screening(queue, request, model=MODEL, image_hashes=["b" * 64, "a" * 64])
    again = enqueue_screening(queue, request, model=MODEL, image_hashes=["a" * 64, "b" * 64])
    assert again.id == job.id  # same patient, images, model and options: one job
    assert job.payload == {
        "patient_ref": rec.patient_ref,
        "fhir_base": gateway.base_url,
        "auth": "system",
        "lang": "en",
        "engine": "rules",
        "write": True,
        "write_referral": False,
        "encounter_ref": None,
    }

    run_jobs(store, handlers)

    done = queue.status(job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED
    assert done.progress == 100 and done.result is not None
    assert done.result["status"] == "complete" and done.result["referable_any"] is True
    assert done.result["created"] > 0 and "diagnostic-report" in done.result["written"]
    record = ScreeningService(gateway, store=store).latest(rec.patient_ref)
    assert record is not None and record.id == done.result["screening_id"]
    assert grader.graded_count == 2


def test_job_keys_change_with_images_model_and_options() -> None:
    base = ScreeningJob(patient_ref="1", fhir_base="http://f/R4")
    key = screening_job_key(base, MODEL, ["a" * 64])
    assert key == screening_job_key(base, MODEL, ["a" * 64, "a" * 64])
    assert key != screening_job_key(base, MODEL, ["b" * 64])
    assert key != screening_job_key(base, ModelInfo(name="fake-grader", version="2.0"), ["a" * 64])
    zh = ScreeningJob(patient_ref="1", fhir_base="http://f/R4", lang=Lang.ZH)
    assert key != screening_job_key(zh, MODEL, ["a" * 64])
    assert key != screening_job_key(
        ScreeningJob(patient_ref="2", fhir_base="http://f/R4"), MODEL, ["a" * 64]
    )


def test_failures_end_the_job_or_retry_it(kit: Any, store: Store, gateway: Any) -> None:
    queue, handlers, _ = setup(kit, store, gateway)
    missing = enqueue_screening(
        queue, ScreeningJob(patient_ref="Patient/gone", fhir_base=gateway.base_url), model=MODEL
    )
    bad = queue.enqueue(SCREENING_JOB, {"patient_ref": "x", "token": "secret"}, "bad-payload")
    run_jobs(store, handlers)
    gone = queue.status(missing.id)
    assert gone is not None and gone.status == JobStatus.FAILED and gone.attempts == 1
    assert gone.error == "Patient/gone was not found on the FHIR server"
    refused = queue.status(bad.id)
    assert refused is not None and refused.status == JobStatus.FAILED
    assert refused.error == "screening job payload is invalid"


def test_job_errors_say_whether_waiting_helps() -> None:
    def problem(code: str) -> ImageProblem:
        return ImageProblem(
            image_id="i", source_ref="Media/1", stage="retrieve", code=code, reason="r"
        )

    down = job_error(ImagingErrors("none", [problem("unavailable")]))
    corrupt = job_error(ImagingErrors("none", [problem("corrupt")]))
    assert getattr(down, "retryable", None) is True and getattr(corrupt, "retryable", None) is False
    assert getattr(job_error(NoImages("no images")), "retryable", None) is False
    from plugin.fhir.errors import FhirInvalid, FhirUnavailable

    fhir = job_error(FhirInvalid("FHIR search failed", 400, "Patient Wanda Testperson: bad"))
    assert str(fhir) == "FHIR server error (FhirInvalid, HTTP 400)"  # no server text kept
    assert getattr(job_error(FhirUnavailable("down", 503)), "retryable", None) is True
    odd = ValueError("boom")
    assert job_error(odd) is odd


def test_handlers_from_services_only_for_the_configured_server(
    kit: Any, store: Store, gateway: Any
) -> None:
    settings = Settings(
        fhir=FhirSettings(base_url=gateway.base_url, auth=BearerFhirAuth(token="t0ken"))
    )
    services = fake_services(settings, gateway, store)
    assert (
        screening_job_handlers(
            SimpleNamespace(settings=Settings(), system_fhir=None, store=store)  # type: ignore[arg-type]
        )
        == {}
    )
    handlers = HandlerRegistry()
    for kind, handler in screening_job_handlers(services).items():  # type: ignore[arg-type]
        handlers.register(kind, handler)
    queue = JobQueue(store.jobs, handlers)
    rec = kit.make_record(gateway)
    elsewhere = enqueue_screening(
        queue,
        ScreeningJob(patient_ref=rec.patient_ref, fhir_base="https://other/fhir"),
        model=MODEL,
    )
    here = enqueue_screening(
        queue,
        ScreeningJob(patient_ref=rec.patient_ref, fhir_base=gateway.base_url, write=False),
        model=MODEL,
    )
    run_jobs(store, handlers)
    other = queue.status(elsewhere.id)
    assert other is not None and other.status == JobStatus.FAILED
    assert other.error == "the job names a FHIR server this worker has no credentials for"
    # No image in the record: NoImages, not retried (the shipped grader is not even needed).
    mine = queue.status(here.id)
    assert mine is not None and mine.status == JobStatus.FAILED
    assert mine.error is not None and "no fundus images" in mine.error
    audited = [e for e in store.audit.recent() if e.actor == "system:screening-job"]
    assert {e.action for e in audited} >= {"read", "search"}
    assert all(rec.patient_ref in e.resource_refs for e in audited)

    # A grader injected in services.extensions (as the CDS service and the app do) is used.
    services.extensions[GRADER_EXTENSION] = grader = kit.FakeGrader()
    rec2 = kit.make_record(gateway, {"right": (120, 0, 0)})
    graded = enqueue_screening(
        queue, ScreeningJob(patient_ref=rec2.patient_ref, fhir_base=gateway.base_url), model=MODEL
    )
    run_jobs(store, handlers)
    done = queue.status(graded.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED, done
    assert grader.graded_count == 1


def test_the_job_drafts_advice_with_the_deployment_population(
    kit: Any, store: Store, gateway: Any
) -> None:
    settings = Settings(
        fhir=FhirSettings(base_url=gateway.base_url),
        advice=AdviceConfig(population=Population.CHINESE),
    )
    services = fake_services(settings, gateway, store, grader=kit.FakeGrader())
    handlers = HandlerRegistry()
    for kind, handler in screening_job_handlers(services).items():  # type: ignore[arg-type]
        handlers.register(kind, handler)
    rec = kit.make_record(gateway, {"right": (20, 0, 0)})
    gateway.create(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "39156-5"}]},
            "subject": {"reference": rec.patient_ref},
            "effectiveDateTime": "2026-02-01",
            "valueQuantity": {"value": 24.5, "unit": "kg/m2", "code": "kg/m2"},
        }
    )
    request = ScreeningJob(patient_ref=rec.patient_ref, fhir_base=gateway.base_url, write=False)
    job = enqueue_screening(JobQueue(store.jobs, handlers), request, model=MODEL)
    run_jobs(store, handlers)
    assert store.jobs.get(job.id).status == JobStatus.SUCCEEDED  # type: ignore[union-attr]
    stored = ScreeningService(gateway, store=store).latest(rec.patient_ref)
    assert stored is not None and stored.advice is not None
    # BMI 24.5 is overweight by the Chinese cut-off (24), not by the ADA general one (25).
    assert "WT-LOSS-CHINESE" in [item["rule_id"] for item in stored.advice["items"]]


@pytest.mark.integration
def test_the_job_grades_with_the_configured_remote_grader(
    kit: Any, store: Store, gateway: Any, remote_tiny_grader: Any
) -> None:
    remote = remote_tiny_grader
    settings = settings_from_mapping(
        {"fhir": {"base_url": gateway.base_url}, "grader": remote.grader}
    )
    services = fake_services(settings, gateway, store)  # no grader injected: the configured one
    handlers = HandlerRegistry()
    for kind, handler in screening_job_handlers(services).items():  # type: ignore[arg-type]
        handlers.register(kind, handler)
    rec = kit.make_record(gateway)
    rec.add_media("right", remote.photo)
    request = ScreeningJob(patient_ref=rec.patient_ref, fhir_base=gateway.base_url, write=False)
    job = enqueue_screening(JobQueue(store.jobs, handlers), request, model=MODEL)
    before = remote.server.requests
    run_jobs(store, handlers)
    done = store.jobs.get(job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED, done
    stored = ScreeningService(gateway, store=store).latest(rec.patient_ref)
    assert stored is not None and stored.summary["model"]["name"] == "tiny"
    assert remote.server.requests > before


class _ImageOrigin(BaseHTTPRequestHandler):
    """The FHIR server's origin serving a photograph outside the FHIR API (as an EHR's
    document service might): only with the system token."""

    photo = b""
    seen: list[str | None] = []

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization")
        type(self).seen.append(auth)
        ok = self.path == "/files/right.png" and auth == f"Bearer {SYSTEM_TOKEN}"
        body = self.photo if ok else b"{}"
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "image/png" if ok else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


SYSTEM_TOKEN = "system-t0ken-5d1f"


@pytest.fixture
def image_origin(kit: Any) -> Iterator[str]:
    _ImageOrigin.photo = kit.png((120, 0, 0))
    _ImageOrigin.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ImageOrigin)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("token", [SYSTEM_TOKEN, None])
def test_the_job_sends_the_system_token_to_images_on_the_fhir_servers_origin(
    kit: Any, store: Store, image_origin: str, token: str | None
) -> None:
    gateway = InMemoryFhirGateway(f"{image_origin}/fhir")
    settings = Settings(fhir=FhirSettings(base_url=gateway.base_url))
    services = fake_services(
        settings,
        gateway,
        store,
        grader=kit.FakeGrader(),
        system_token=(lambda: token) if token else None,
    )
    handlers = HandlerRegistry()
    for kind, handler in screening_job_handlers(services).items():
        handlers.register(kind, handler)
    rec = kit.make_record(gateway)
    photo = kit.media(rec.patient_ref, "right", b"")
    photo["content"] = {"contentType": "image/png", "url": f"{image_origin}/files/right.png"}
    gateway.create(photo)
    request = ScreeningJob(patient_ref=rec.patient_ref, fhir_base=gateway.base_url, write=False)
    job = enqueue_screening(JobQueue(store.jobs, handlers), request, model=MODEL, max_attempts=1)
    run_jobs(store, handlers)
    done = store.jobs.get(job.id)
    assert done is not None
    if token:
        assert done.status == JobStatus.SUCCEEDED, done.error
        assert _ImageOrigin.seen == [f"Bearer {SYSTEM_TOKEN}"]
    else:  # no system token: the image is refused, nothing else is sent in its place
        assert done.status == JobStatus.FAILED and _ImageOrigin.seen == [None]


def test_payloads_never_take_a_token() -> None:
    with pytest.raises(ValueError):
        ScreeningJob.model_validate(
            {"patient_ref": "1", "fhir_base": "http://f", "access_token": "x"}
        )
    with pytest.raises(ValueError):
        ScreeningJob.model_validate({"patient_ref": "1", "fhir_base": "http://f", "auth": "bearer"})
