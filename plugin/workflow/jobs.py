"""The `screening` background job: the same ScreeningService run by a job worker.

    job = enqueue_screening(queue, ScreeningJob(patient_ref="Patient/1", fhir_base=base),
                            model=grader.model, image_hashes=hashes)
    queue.status(job.id).status_view()   # progress 0-100 with the stage as message

Credentials: the payload never holds a token (jobs sit in the store, in clear). `auth` says
which of the worker's own credentials to use; the only mode is "system": the FHIR server
configured for system work (`fhir.base_url` with `fhir.auth`: a configured bearer token, or
SMART Backend Services, client_credentials with a private_key_jwt assertion), whose token
(services.system_token) also goes to image URLs on that server's origin. A job naming
another FHIR server fails at once: a user's token from an EHR launch or a CDS call is not
kept for background work.

Idempotency key: patient + FHIR server + the images' content hashes (what the caller saw:
the CDS service has them after its cache lookup) + model version + the output options; the
same request is one job, ever. Re-running a job is safe: every FHIR write is a conditional
create on a business identifier.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from fhir_mappers.outbound import OutboundError
from fhir_mappers.outbound.identifiers import digest
from models.advice import Engine, Lang
from models.grader.result import ModelInfo
from plugin.fhir.errors import (
    FhirAuthError,
    FhirError,
    FhirTimeout,
    FhirTransactionError,
    FhirUnavailable,
)
from plugin.jobs.errors import JobError
from plugin.jobs.queue import JobQueue
from plugin.jobs.registry import Handler, JobResult, Progress
from plugin.store.errors import StoreError
from plugin.store.jobs import Job
from plugin.store.screenings import normalise_base
from plugin.workflow.errors import (
    AdviceUnavailable,
    GraderUnavailable,
    ImagingErrors,
    WorkflowError,
)
from plugin.workflow.grader import GRADER_EXTENSION, Grader
from plugin.workflow.record import parse_patient_ref
from plugin.workflow.service import ScreeningService
from plugin.workflow.types import ScreeningOptions

if TYPE_CHECKING:
    from plugin.services import Services

log = logging.getLogger(__name__)

SCREENING_JOB = "screening"
JOB_ACTOR = "system:screening-job"
# Image problems worth another attempt later (a PACS or FHIR server that was down).
TRANSIENT_IMAGE_CODES = frozenset({"unavailable", "timeout", "fhir-error", "unauthorized"})


class ScreeningJob(BaseModel):
    """A screening job's payload: references and options, never a token."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    patient_ref: str
    fhir_base: str
    auth: Literal["system"] = "system"
    lang: Lang = Lang.EN
    engine: Engine = Engine.RULES
    write: bool = True
    write_referral: bool = False
    encounter_ref: str | None = None

    @field_validator("patient_ref")
    @classmethod
    def _patient(cls, v: str) -> str:
        return parse_patient_ref(v)

    @field_validator("fhir_base")
    @classmethod
    def _base(cls, v: str) -> str:
        base = normalise_base(v)
        if not base.startswith(("http://", "https://")):
            raise ValueError("fhir_base must be an http(s) URL")
        return base

    def options(self) -> ScreeningOptions:
        return ScreeningOptions(
            lang=self.lang,
            engine=self.engine,
            write=self.write,
            write_referral=self.write_referral,
            encounter_ref=self.encounter_ref,
        )


def screening_job_key(job: ScreeningJob, model: ModelInfo, image_hashes: Sequence[str]) -> str:
    return "screening:" + digest(
        {
            "patient": job.patient_ref,
            "fhir": job.fhir_base,
            "images": sorted(set(image_hashes)),
            "model": [model.name, model.version],
            "options": job.model_dump(mode="json", exclude={"patient_ref", "fhir_base"}),
        }
    )


def enqueue_screening(
    queue: JobQueue,
    job: ScreeningJob,
    *,
    model: ModelInfo,
    image_hashes: Sequence[str] = (),
    max_attempts: int | None = None,
) -> Job:
    """The job for this request (created now or found). Without image hashes the key is
    patient + model + options: a new photograph needs its hashes to start a new job."""
    return queue.enqueue(
        SCREENING_JOB,
        job.model_dump(mode="json"),
        screening_job_key(job, model, image_hashes),
        max_attempts=max_attempts,
    )


ServiceFactory = Callable[[ScreeningJob], ScreeningService]


def screening_handler(make_service: ServiceFactory) -> Handler:
    """`make_service(job)`: the ScreeningService for the job's FHIR server with the worker's
    credentials; raises JobError when it has none for that server."""

    def handle(payload: dict[str, Any], progress: Progress) -> JobResult:
        try:
            job = ScreeningJob.model_validate(payload)
        except ValidationError:
            raise JobError("screening job payload is invalid", retryable=False) from None
        service = make_service(job)
        try:
            result = service.screen(
                job.patient_ref, job.options(), progress=lambda stage, pct: progress(pct, stage)
            )
        except Exception as exc:
            raise job_error(exc) from None
        summary = result.stored.summary
        return {
            "screening_id": result.screening_id,
            "status": result.status,
            "written": dict(result.written.references) if result.written else {},
            "created": result.written.created_count if result.written else 0,
            "problems": len(result.problems),
            "referable_any": summary.get("referable_any"),
        }

    return handle


def job_error(exc: Exception) -> Exception:
    """A workflow failure as a JobError with a safe message; retryable when waiting may
    help (a server down, a token expired). Anything unexpected is re-raised as is (the
    worker logs its type and retries)."""
    if isinstance(exc, ImagingErrors):
        transient = any(p.code in TRANSIENT_IMAGE_CODES for p in exc.problems)
        return JobError(exc.message, retryable=transient)
    if isinstance(exc, GraderUnavailable | AdviceUnavailable):
        return JobError(exc.message, retryable=True)
    if isinstance(exc, WorkflowError):
        return JobError(exc.message, retryable=False)
    if isinstance(exc, FhirError):
        retry = isinstance(exc, FhirUnavailable | FhirTimeout | FhirAuthError)
        retry = retry or (isinstance(exc, FhirTransactionError) and (exc.status or 0) >= 500)
        status = f", HTTP {exc.status}" if exc.status else ""
        # The server's OperationOutcome text is not kept: it may quote the request.
        return JobError(f"FHIR server error ({type(exc).__name__}{status})", retryable=retry)
    if isinstance(exc, OutboundError):
        return JobError(f"write-back refused before sending: {exc}"[:500], retryable=False)
    if isinstance(exc, StoreError):
        return JobError(f"store error ({type(exc).__name__})", retryable=True)
    return exc


# --- wiring into plugin.services (JOB_HANDLER_FACTORIES: "plugin.workflow.jobs:...") ------


class LazyGrader:
    """Loads the grader bundle on first use (not at worker start), once per process."""

    def __init__(self, load: Callable[[], Grader]) -> None:
        self._load = load
        self._grader: Grader | None = None
        self._lock = threading.Lock()

    def get(self) -> Grader:
        with self._lock:
            if self._grader is None:
                self._grader = self._load()
            return self._grader


def screening_job_handlers(services: Services) -> Mapping[str, Handler]:
    """{"screening": handler} when a FHIR server for system work is configured. The grader:
    the one injected in services.extensions[GRADER_EXTENSION] when there is one at job
    time, else the configured one, local or remote (loaded on first use)."""
    from plugin.observability.audit import AuditingGateway
    from plugin.workflow.factory import configured_grader, screening_service_from_settings

    settings = services.settings
    system = services.system_fhir
    if system is None or settings.fhir.base_url is None:
        return {}
    # Every read and write of the job lands in the audit trail, as the system actor.
    gateway = AuditingGateway(system, services.audit, JOB_ACTOR)
    configured = normalise_base(settings.fhir.base_url)
    grader = LazyGrader(lambda: configured_grader(settings))  # local or remote

    def make_service(job: ScreeningJob) -> ScreeningService:
        if job.fhir_base != configured:
            raise JobError(
                "the job names a FHIR server this worker has no credentials for",
                retryable=False,
            )
        injected = services.extensions.get(GRADER_EXTENSION)
        try:
            loaded: Grader | None = injected if injected is not None else grader.get()  # type: ignore[assignment]
        except GraderUnavailable as exc:
            log.warning("screening job without a grader: %s", exc.message)
            loaded = None
        return screening_service_from_settings(
            settings,
            gateway,
            services.store,
            grader=loaded,
            # Image URLs on the FHIR server's own origin get the system token, as the
            # gateway's requests do (other origins: their configured credentials only).
            fhir_token=services.system_token,
            observe_grading=services.metrics.observe_grading,
        )

    return {SCREENING_JOB: screening_handler(make_service)}
