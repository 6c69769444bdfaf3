"""Worker runtime: threads that claim jobs from the store, run their handlers, heartbeat
their leases and record how each run ended.

    worker = Worker(store.jobs, registry, WorkerOptions(threads=2))
    worker.start() ... worker.stop()

Runs inside the web process (threads) or in its own process (`run_worker_process`). Any
number of workers, in any number of processes or machines, may share one store: claims
are atomic, leases keep a job with one runner at a time, and a dead runner's job is taken
up again once its lease expires.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from plugin.jobs.backoff import Backoff
from plugin.jobs.errors import JobError, LeaseLost
from plugin.jobs.registry import HandlerRegistry
from plugin.store.errors import StoreError
from plugin.store.jobs import Claim, JobRepository
from plugin.store.jsontext import canonical_json

log = logging.getLogger("deepdr.jobs")


@dataclass(frozen=True)
class WorkerOptions:
    threads: int = 2
    lease: timedelta = timedelta(seconds=60)
    # Idle workers look for due jobs this often (enqueueing in-process wakes them at once).
    poll_interval_s: float = 1.0
    backoff: Backoff = field(default_factory=Backoff)

    def __post_init__(self) -> None:
        if self.threads < 1 or self.lease.total_seconds() < 1 or self.poll_interval_s <= 0:
            raise ValueError("worker needs >= 1 thread, a lease >= 1 s and a positive poll")


class JobContext:
    """The progress callback handed to a handler, with the run's identity."""

    def __init__(self, jobs: JobRepository, claim: Claim, lease: timedelta) -> None:
        self._jobs = jobs
        self._claim = claim
        self._lease = lease
        self._lost = threading.Event()
        self.job_id = claim.job.id
        self.attempt = claim.job.attempts
        self.idempotency_key = claim.job.idempotency_key

    def __call__(self, percent: int, message: str = "") -> None:
        """Records progress and extends the lease; raises LeaseLost if the job is no
        longer this runner's."""
        if self._lost.is_set():
            raise LeaseLost(self.job_id)
        percent = max(0, min(100, int(percent)))
        if not self._jobs.heartbeat(self._claim, self._lease, percent, message):
            self._lost.set()
            raise LeaseLost(self.job_id)

    @property
    def lease_lost(self) -> bool:
        return self._lost.is_set()

    def heartbeat(self) -> None:
        """Extends the lease without touching progress (the worker's heartbeat thread)."""
        if not self._lost.is_set() and not self._jobs.heartbeat(self._claim, self._lease):
            self._lost.set()


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(
        self,
        jobs: JobRepository,
        handlers: HandlerRegistry,
        options: WorkerOptions | None = None,
        worker_id: str | None = None,
    ) -> None:
        self._jobs = jobs
        self._handlers = handlers
        self.options = options or WorkerOptions()
        self.worker_id = worker_id or default_worker_id()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._active: dict[str, JobContext] = {}
        self._active_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        if self._threads:
            raise RuntimeError("worker already started")
        self._stop.clear()
        for i in range(self.options.threads):
            self._spawn(self._poll_loop, f"job-worker-{i}")
        self._spawn(self._heartbeat_loop, "job-heartbeat")

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout_s: float | None = None) -> None:
        """Stops taking jobs and waits for running ones to finish (a run that outlasts
        `timeout_s` is abandoned; its lease expires and it is retried elsewhere)."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads = []

    def wake(self) -> None:
        """Looks for work now instead of at the next poll (called after an enqueue)."""
        self._wake.set()

    @property
    def running_jobs(self) -> tuple[str, ...]:
        with self._active_lock:
            return tuple(self._active)

    # -- work --------------------------------------------------------------------------

    def run_one(self) -> bool:
        """Claims one due job and runs it in the calling thread; False if none was due."""
        kinds = self._handlers.kinds
        if not self._jobs.has_due_work(kinds):
            return False
        claim = self._jobs.claim(self.worker_id, kinds, self.options.lease)
        if claim is None:
            return False
        self._run(claim)
        return True

    def run_until_idle(self, max_jobs: int = 1000) -> int:
        """Runs due jobs in the calling thread until none is due; returns how many ran."""
        count = 0
        while count < max_jobs and self.run_one():
            count += 1
        return count

    def _run(self, claim: Claim) -> None:
        ctx = JobContext(self._jobs, claim, self.options.lease)
        with self._active_lock:
            self._active[claim.job.id] = ctx
        try:
            self._run_handler(claim, ctx)
        finally:
            with self._active_lock:
                self._active.pop(claim.job.id, None)

    def _run_handler(self, claim: Claim, ctx: JobContext) -> None:
        job = claim.job
        try:
            result = self._handlers.handler(job.kind)(job.payload, ctx)
        except LeaseLost:
            log.warning("job %s attempt %d: lease lost, run abandoned", job.id, job.attempts)
            return
        except JobError as exc:
            self._record_failure(claim, exc.safe_message, retryable=exc.retryable)
            return
        except Exception as exc:
            _log_crash(claim, exc)
            self._record_failure(claim, f"internal error ({type(exc).__name__})", retryable=True)
            return
        problem = _result_problem(result)
        if problem is not None:
            self._record_failure(claim, problem, retryable=False)
            return
        try:
            if not self._jobs.complete(claim, result):
                log.warning("job %s attempt %d: lease lost before completion", job.id, job.attempts)
        except StoreError as exc:  # the lease will expire and the job be retried
            log.error("job %s: could not record success: %s", job.id, exc)

    def _record_failure(self, claim: Claim, message: str, *, retryable: bool) -> None:
        job = claim.job
        retry_at = self._jobs.clock() + self.options.backoff.delay(job.attempts)
        try:
            status = self._jobs.fail(claim, message, retryable=retryable, retry_at=retry_at)
        except StoreError as exc:  # the lease will expire and the job be retried
            log.error("job %s: could not record failure: %s", job.id, exc)
            return
        log.info("job %s attempt %d failed (%s): now %s", job.id, job.attempts, message, status)

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            try:
                ran = self.run_one()
            except StoreError as exc:
                log.warning("job worker cannot reach the store: %s", exc)
                ran = False
            except Exception as exc:  # a bug must not silently kill the worker thread
                log.error("job worker loop error: %s", type(exc).__name__)
                ran = False
            if not ran:
                self._wake.wait(self.options.poll_interval_s)
                self._wake.clear()

    def _heartbeat_loop(self) -> None:
        """Extends the leases of running jobs every lease/3. Keeps going after stop() until
        the runs finish, so a graceful stop never loses a lease mid-run."""
        interval = self.options.lease.total_seconds() / 3
        last_beat = time.monotonic()
        while not (self._stop.is_set() and not self.running_jobs):
            time.sleep(min(interval, 0.25))  # a cheap tick; the store is touched per interval
            if time.monotonic() - last_beat < interval:
                continue
            last_beat = time.monotonic()
            with self._active_lock:
                contexts = list(self._active.values())
            for ctx in contexts:
                try:
                    ctx.heartbeat()
                except StoreError as exc:
                    log.warning("job %s: heartbeat failed: %s", ctx.job_id, exc)


def _result_problem(result: object) -> str | None:
    if result is None:
        return None
    if not isinstance(result, Mapping):
        return "handler returned something other than a JSON object"
    try:
        canonical_json(dict(result))
    except ValueError:
        return "handler result is not JSON-serialisable"
    return None


def _log_crash(claim: Claim, exc: BaseException) -> None:
    """Type and place of a handler crash, never its message: exception texts can carry
    patient data or tokens from the payload or a server's reply."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    log.error(
        "job %s (%s) attempt %d crashed: %s at %s",
        claim.job.id,
        claim.job.kind,
        claim.job.attempts,
        type(exc).__name__,
        where,
    )
