"""The producer side of background jobs: what the web layer calls.

    queue = JobQueue(store.jobs, registry, wake=worker.wake)
    job = queue.enqueue("write-back", {"report": ...}, idempotency_key=f"write-back:{id}")
    queue.status(job.id)  # -> Job: status, progress, message, result or error

Unknown kinds are refused at enqueue time: a job nobody can run would wait forever.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from plugin.jobs.errors import UnknownJobKind
from plugin.jobs.registry import HandlerRegistry
from plugin.store.jobs import Job, JobRepository


class JobQueue:
    def __init__(
        self,
        jobs: JobRepository,
        handlers: HandlerRegistry,
        wake: Callable[[], None] | None = None,
        default_max_attempts: int = 5,
    ) -> None:
        if default_max_attempts < 1:
            raise ValueError("default_max_attempts must be at least 1")
        self._jobs = jobs
        self._handlers = handlers
        self._wake = wake
        self._default_max_attempts = default_max_attempts

    def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any],
        idempotency_key: str,
        *,
        max_attempts: int | None = None,
        run_after: datetime | None = None,
    ) -> Job:
        """The job for `idempotency_key`, created now or before (never twice). Raises
        UnknownJobKind, IdempotencyConflict (same key, other request), ValueError.
        `max_attempts`: None -> the queue's default (config `jobs.max_attempts`)."""
        if kind not in self._handlers:
            raise UnknownJobKind(f"no handler for job kind {kind!r}")
        job, created = self._jobs.enqueue(
            kind,
            payload,
            idempotency_key,
            max_attempts=self._default_max_attempts if max_attempts is None else max_attempts,
            run_after=run_after,
        )
        if created and self._wake is not None:
            self._wake()
        return job

    def status(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)
