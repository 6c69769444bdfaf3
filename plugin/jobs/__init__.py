"""Background jobs: a persistent queue in the store, run by worker threads or processes.

At-least-once execution, at most one lease holder per job, retries with backoff, progress
visible to the UI; a job interrupted by a crash or restart is retried, never lost. Effects
on the FHIR server happen exactly once because handlers are idempotent (conditional
creates keyed by business identifiers). No Flask here.
"""

from plugin.jobs.backoff import Backoff
from plugin.jobs.errors import JobError, LeaseLost, UnknownJobKind
from plugin.jobs.queue import JobQueue
from plugin.jobs.registry import Handler, HandlerRegistry, Progress
from plugin.jobs.worker import JobContext, Worker, WorkerOptions

__all__ = [
    "Backoff",
    "Handler",
    "HandlerRegistry",
    "JobContext",
    "JobError",
    "JobQueue",
    "LeaseLost",
    "Progress",
    "UnknownJobKind",
    "Worker",
    "WorkerOptions",
]
