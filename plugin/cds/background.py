"""Grading that does not fit a hook call's budget continues in the background.

Two ways, tried in order:
1. the workflow's persistent `screening` job (plugin.workflow.jobs), when the hook's FHIR
   server is the one this deployment has system credentials for (`fhir.base_url`) and a
   handler for the job kind is registered: the job survives restarts, runs on any worker,
   and its idempotency key (patient + server + image hashes + model + options) makes every
   hook call about the same photographs find the same job;
2. otherwise a small in-process queue that grades with the hook's own token while the call's
   token is still valid (it is held in memory only, never stored): results land in the shared
   grading cache, so any worker answers the next call from it. Lost on a restart, which only
   means the next call queues it again.

Either way the next hook call finds the results in the grading cache.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from models.grader.result import ModelInfo
from plugin.cds.fhir_access import same_server
from plugin.jobs.errors import JobError
from plugin.jobs.queue import JobQueue
from plugin.jobs.registry import HandlerRegistry
from plugin.store.errors import StoreError
from plugin.workflow.jobs import SCREENING_JOB, ScreeningJob, enqueue_screening

log = logging.getLogger(__name__)

PendingStatus = Literal["queued", "running", "succeeded", "failed"]
# The CDS-started screening records and caches the grading but writes nothing to the EHR:
# a chart being opened is no request to write results into it (the app does that).
CDS_SCREENING_WRITES = False


@dataclass(frozen=True)
class Pending:
    """Background grading of a call's images: where it runs and how far it is."""

    kind: Literal["job", "local"]
    status: PendingStatus
    job_id: str | None = None


@dataclass(frozen=True)
class BackgroundRequest:
    fhir_base: str
    patient_ref: str
    model: ModelInfo
    image_hashes: tuple[str, ...]
    #: In-process fallback: fetch what is missing (with the call's token) and grade.
    local_work: Callable[[], None]


class ScreeningJobs:
    """The persistent path: a `screening` job on the configured system FHIR server."""

    def __init__(
        self, queue: JobQueue, handlers: HandlerRegistry, system_fhir_base: str | None
    ) -> None:
        self._queue = queue
        self._handlers = handlers
        self._base = system_fhir_base

    def applies(self, fhir_base: str) -> bool:
        return same_server(fhir_base, self._base) and SCREENING_JOB in self._handlers

    def submit(self, request: BackgroundRequest) -> Pending | None:
        assert self._base is not None
        job = ScreeningJob(
            patient_ref=request.patient_ref, fhir_base=self._base, write=CDS_SCREENING_WRITES
        )
        try:
            found = enqueue_screening(
                self._queue, job, model=request.model, image_hashes=request.image_hashes
            )
        except (StoreError, JobError, ValueError) as exc:
            log.warning("could not queue a screening job: %s", type(exc).__name__)
            return None
        return Pending("job", found.status.value, found.id)


class LocalGrading:
    """The in-process path: one grading thread, a bounded number of waiting calls, one
    task per set of images (a second call about the same images joins the first)."""

    def __init__(self, max_waiting: int = 16) -> None:
        self._max_waiting = max_waiting
        self._lock = threading.Lock()
        self._tasks: dict[str, Future[None]] = {}
        self._pool: ThreadPoolExecutor | None = None

    def submit(self, key: str, work: Callable[[], None]) -> Pending | None:
        with self._lock:
            task = self._tasks.get(key)
            if task is not None:
                if not task.done():
                    return Pending("local", "running")
                if task.exception() is None:
                    return Pending("local", "succeeded")
                del self._tasks[key]  # failed: try again
            waiting = sum(1 for t in self._tasks.values() if not t.done())
            if waiting >= self._max_waiting:
                return None
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cds-grading")
            self._tasks = {k: t for k, t in self._tasks.items() if not t.done()}
            self._tasks[key] = self._pool.submit(_quietly, work)
            return Pending("local", "queued")

    def wait_idle(self, timeout_s: float = 30.0) -> None:
        """Blocks until every queued task has finished (tests, shutdown)."""
        with self._lock:
            tasks = list(self._tasks.values())
        for task in tasks:
            task.exception(timeout=timeout_s)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _quietly(work: Callable[[], None]) -> None:
    try:
        work()
    except Exception as exc:
        # Type only: a message could quote patient data.
        log.warning("background CDS grading failed: %s", type(exc).__name__)
        raise


class BackgroundGrading:
    def __init__(self, jobs: ScreeningJobs | None, local: LocalGrading | None) -> None:
        self._jobs = jobs
        self._local = local

    def submit(self, request: BackgroundRequest, local_key: str) -> Pending | None:
        if self._jobs is not None and self._jobs.applies(request.fhir_base):
            found = self._jobs.submit(request)
            if found is not None:
                return found
        if self._local is not None:
            return self._local.submit(local_key, request.local_work)
        return None

    def close(self) -> None:
        if self._local is not None:
            self._local.close()


def local_key(fhir_base: str, patient_ref: str, model: ModelInfo, keys: Sequence[str]) -> str:
    return "|".join([fhir_base, patient_ref, model.name, model.version, *sorted(keys)])
