"""Records of the job queue: what a job, a claim and an attempt look like to callers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from plugin.store.clock import from_ms
from plugin.store.database import Row


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    idempotency_key: str
    payload: dict[str, Any]
    status: JobStatus
    attempts: int
    max_attempts: int
    run_after: datetime
    progress: int
    progress_message: str
    result: dict[str, Any] | None
    error: str | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)

    def status_view(self) -> dict[str, Any]:
        """What a UI may show: no payload (it may hold patient references), no lease."""
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status.value,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "progress": self.progress,
            "message": self.progress_message,
            "result": self.result,
            "error": self.error,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


@dataclass(frozen=True)
class Claim:
    """A job as claimed by one runner; `token` proves the lease."""

    job: Job
    token: str


@dataclass(frozen=True)
class JobAttempt:
    job_id: str
    attempt: int
    worker: str
    started_at: datetime
    ended_at: datetime | None
    outcome: str  # running | succeeded | failed | retry | lost
    error: str | None


def job_from_row(row: Row) -> Job:
    def moment(name: str) -> datetime | None:
        return from_ms(int(row[name])) if row[name] is not None else None

    return Job(
        id=row["id"],
        kind=row["kind"],
        idempotency_key=row["idempotency_key"],
        payload=json.loads(row["payload"]),
        status=JobStatus(row["status"]),
        attempts=int(row["attempts"]),
        max_attempts=int(row["max_attempts"]),
        run_after=from_ms(int(row["run_after_ms"])),
        progress=int(row["progress"]),
        progress_message=row["progress_message"],
        result=json.loads(row["result"]) if row["result"] is not None else None,
        error=row["error"],
        lease_owner=row["lease_owner"],
        lease_expires_at=moment("lease_expires_ms"),
        created_at=from_ms(int(row["created_ms"])),
        updated_at=from_ms(int(row["updated_ms"])),
        finished_at=moment("finished_ms"),
    )
