"""The `smart-review` background job: the screening workflow run for a clinician's SMART
session (read the record, fetch and grade the photographs, draft advice, write the
preliminary result back), so the review page never waits on it.

Credentials: the job runs with the launching user's own token, never a system one. The
payload holds the session id sealed with a key derived from the session keys (AES-GCM), not
the id itself: a copy of the jobs table opens no session. The worker loads the session
from the store and refreshes its token as needed (SessionTokenProvider).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from fhir_mappers.outbound.identifiers import digest
from models.advice import Engine, Lang
from plugin.fhir.errors import FhirAuthError, FhirError, FhirTimeout, FhirUnavailable
from plugin.jobs.errors import JobError
from plugin.jobs.registry import Handler, JobResult, Progress
from plugin.services import Services
from plugin.smart_app.runtime import GRADER_EXTENSION_KEY, SmartRuntime, smart_runtime
from plugin.store.errors import IdempotencyConflict
from plugin.store.jobs import Job
from plugin.workflow import (
    Grader,
    GraderUnavailable,
    ScreeningOptions,
    ScreeningResult,
    WorkflowError,
)
from plugin.workflow.factory import configured_grader, screening_service_from_settings
from plugin.workflow.service import advice_context
from smart_launch import SessionTokenProvider, SmartError

log = logging.getLogger(__name__)

REVIEW_JOB = "smart-review"
MAX_ATTEMPTS = 3
NO_GRADER = (
    "the image-grading model is not available on this server, so the advice was drafted "
    "without grading. Ask your administrator to install or configure the grader."
)


class ReviewJob(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    fhir_base: str
    patient_ref: str
    sealed_session: str  # base64 AES-GCM of the session id, bound to the patient
    lang: Lang = Lang.EN
    engine: Engine = Engine.RULES
    write: bool = True


def _aad(patient_ref: str) -> bytes:
    return b"smart-review:" + patient_ref.encode()


def review_job_key(session_id: str, fhir_base: str, patient_ref: str) -> str:
    session_hash = hashlib.sha256(session_id.encode()).hexdigest()
    return f"{REVIEW_JOB}:" + digest(
        {"session": session_hash, "fhir": fhir_base, "patient": patient_ref}
    )


def find_review_job(
    services: Services, session_id: str, fhir_base: str, patient: str
) -> Job | None:
    return services.store.jobs.get_by_key(review_job_key(session_id, fhir_base, patient))


def start_review_job(
    services: Services,
    runtime: SmartRuntime,
    session_id: str,
    fhir_base: str,
    patient_ref: str,
    *,
    write: bool,
) -> Job:
    """The session's review job for this patient: found, or queued now (once)."""
    key = review_job_key(session_id, fhir_base, patient_ref)
    found = services.store.jobs.get_by_key(key)
    if found is not None:
        return found
    sealed = runtime.job_cipher.encrypt(session_id.encode(), _aad(patient_ref))
    payload = ReviewJob(
        fhir_base=fhir_base,
        patient_ref=patient_ref,
        sealed_session=base64.b64encode(sealed).decode("ascii"),
        lang=services.settings.advice.lang,
        engine=services.settings.advice.engine,
        write=write,
    )
    try:
        return services.queue.enqueue(
            REVIEW_JOB, payload.model_dump(mode="json"), key, max_attempts=MAX_ATTEMPTS
        )
    except IdempotencyConflict:  # queued by a concurrent request (its sealed blob differs)
        again = services.store.jobs.get_by_key(key)
        if again is None:
            raise
        return again


class _GraderSlot:
    """The configured grader, loaded once per process on first use; None (with the reason)
    when no model can be loaded: the review then drafts advice without grading."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._lock = threading.Lock()
        self._loaded: Grader | None = None
        self._reason: str | None = None
        self._tried = False

    def get(self) -> tuple[Grader | None, str | None]:
        given = self._services.extensions.get(GRADER_EXTENSION_KEY)
        if given is not None:
            return given, None  # type: ignore[return-value]
        with self._lock:
            if not self._tried:
                self._tried = True
                try:
                    self._loaded = configured_grader(self._services.settings)
                except GraderUnavailable as exc:
                    self._reason = NO_GRADER
                    log.warning("review jobs run without a grader: %s", exc.message)
            return self._loaded, self._reason


def review_job_handlers(services: Services) -> Mapping[str, Handler]:
    """{"smart-review": handler} when the SMART app is configured (JOB_HANDLER_FACTORIES)."""
    runtime = smart_runtime(services)
    if runtime is None:
        return {}
    graders = _GraderSlot(services)

    def handle(payload: dict[str, Any], progress: Progress) -> JobResult:
        try:
            job = ReviewJob.model_validate(payload)
            sealed = base64.b64decode(job.sealed_session, validate=True)
            session_id = runtime.job_cipher.decrypt(sealed, _aad(job.patient_ref)).decode()
        except (ValidationError, ValueError, SmartError):
            raise JobError("review job payload is invalid", retryable=False) from None
        session = runtime.sessions.load(session_id)
        if session is None or session.tokens is None:
            raise JobError("the SMART session has ended; launch the app again", retryable=False)
        token = SessionTokenProvider(runtime.client, runtime.sessions, session_id)
        actor = session.fhir_user_reference or f"client:{session.client_id}"
        grader, grader_problem = graders.get()
        gateway = services.fhir_gateway(job.fhir_base, token, actor)
        try:
            service = screening_service_from_settings(
                services.settings,
                gateway,
                services.store,
                grader=grader,
                fhir_token=token,
                observe_grading=services.metrics.observe_grading,
            )
            options = ScreeningOptions(
                lang=job.lang,
                engine=job.engine,
                write=job.write,
                require_images=False,
                grade=grader is not None,
            )
            result = service.screen(
                job.patient_ref, options, progress=lambda stage, pct: progress(pct, stage)
            )
        except Exception as exc:
            raise _job_error(exc) from None
        finally:
            close = getattr(gateway, "close", None)
            if callable(close):
                close()
        return review_result(result, grader_problem)

    return {REVIEW_JOB: handle}


def review_result(result: ScreeningResult, grader_problem: str | None) -> dict[str, Any]:
    """What the review page needs beyond the screening record: the facts with their
    sources, the images it can show, and what went wrong where."""
    images = [
        {
            "image_id": img.image_id,
            "source_ref": img.source_ref,
            "laterality": img.laterality.value,
            "acquired": img.acquired.isoformat() if img.acquired else None,
        }
        for img in result.images.images
    ]
    if not images:  # not graded (no grader): still let the clinician look at the photographs
        images = [
            {
                "image_id": None,
                "source_ref": ref.source,
                "laterality": ref.laterality,
                "acquired": ref.date.isoformat() if ref.date else None,
            }
            for ref in result.record.facts.images[:12]
        ]
    return {
        "screening_id": result.screening_id,
        "status": result.status,
        "facts": result.record.facts.model_dump(mode="json"),
        "images": images,
        "problems": [p.model_dump() for p in result.problems],
        "warnings": list(result.record.warnings)[:20],
        "written": dict(result.written.references) if result.written else {},
        "referral": result.referral.model_dump(mode="json") if result.referral else None,
        "grader_problem": grader_problem,
        "advice_context": advice_context(result.record).model_dump(mode="json"),
    }


def _job_error(exc: Exception) -> Exception:
    if isinstance(exc, JobError):
        return exc
    if isinstance(exc, SmartError):
        return JobError(exc.user_message, retryable=False)
    if isinstance(exc, WorkflowError):
        return JobError(exc.message, retryable=False)
    if isinstance(exc, FhirAuthError):
        return JobError("The EHR refused access to the record.", retryable=False)
    if isinstance(exc, FhirUnavailable | FhirTimeout):
        return JobError("The EHR's FHIR server did not answer; retrying.", retryable=True)
    if isinstance(exc, FhirError):
        status = f" (HTTP {exc.status})" if exc.status else ""
        return JobError(f"The EHR's FHIR server refused a request{status}.", retryable=False)
    return exc
