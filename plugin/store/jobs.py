"""The job queue's table: enqueue, claim with a lease, heartbeat, finish, recover.

Guarantees (the worker runtime in plugin/jobs builds on them):
- one job per idempotency key, ever: enqueueing the same key returns the same job;
- at-least-once execution: a job whose worker dies is re-queued once its lease expires,
  until `max_attempts` runs have started;
- at most one lease holder: every claim issues a fresh `lease_token`, and progress,
  results and failures are accepted only with the current token, so a stale runner (its
  lease expired, the job re-claimed) can change nothing. Handlers must still be idempotent
  (conditional creates keyed by business identifiers): a runner cut off mid-way may have
  done part of its effect.

Claims are atomic: `UPDATE ... WHERE id = (SELECT ... LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING` on PostgreSQL (concurrent claimers skip each other's rows), the same statement
without the lock clause on SQLite, where BEGIN IMMEDIATE makes the claimer the only writer.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from plugin.store.clock import Clock, from_ms, to_ms, utc_now
from plugin.store.database import Database, Transaction
from plugin.store.dialect import skip_locked
from plugin.store.errors import IdempotencyConflict
from plugin.store.job_records import Claim, Job, JobAttempt, JobStatus, job_from_row
from plugin.store.jsontext import canonical_json, sha256_hex
from plugin.store.purge import purge_rows

__all__ = ["LOST_LEASE_ERROR", "Claim", "Job", "JobAttempt", "JobRepository", "JobStatus"]

LOST_LEASE_ERROR = "worker stopped responding (lease expired)"


class JobRepository:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self.clock = clock

    # -- producers ---------------------------------------------------------------------

    def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any],
        idempotency_key: str,
        *,
        max_attempts: int = 5,
        run_after: datetime | None = None,
    ) -> tuple[Job, bool]:
        """Returns (job, created). The same key with the same kind and payload returns the
        existing job; with a different kind or payload raises IdempotencyConflict."""
        if not kind or not idempotency_key:
            raise ValueError("a job needs a kind and an idempotency key")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        payload_text = canonical_json(dict(payload))
        payload_hash = sha256_hex(payload_text)
        now_ms = to_ms(self.clock())
        with self._db.transaction() as tx:
            created = tx.execute(
                "INSERT INTO jobs (id, kind, idempotency_key, payload, payload_sha256, status,"
                " max_attempts, run_after_ms, created_ms, updated_ms)"
                " VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)"
                " ON CONFLICT (idempotency_key) DO NOTHING",
                (
                    uuid.uuid4().hex,
                    kind,
                    idempotency_key,
                    payload_text,
                    payload_hash,
                    max_attempts,
                    to_ms(run_after) if run_after else now_ms,
                    now_ms,
                    now_ms,
                ),
            )
            row = tx.fetchone("SELECT * FROM jobs WHERE idempotency_key = ?", (idempotency_key,))
        assert row is not None  # inserted or already there, in this transaction
        if row["kind"] != kind or row["payload_sha256"] != payload_hash:
            raise IdempotencyConflict("idempotency key already used for a different job")
        return job_from_row(row), created == 1

    # -- readers -----------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        with self._db.read() as tx:
            row = tx.fetchone("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return job_from_row(row) if row else None

    def get_by_key(self, idempotency_key: str) -> Job | None:
        with self._db.read() as tx:
            row = tx.fetchone("SELECT * FROM jobs WHERE idempotency_key = ?", (idempotency_key,))
        return job_from_row(row) if row else None

    def recent(self, status: JobStatus | None = None, limit: int = 100) -> list[Job]:
        where, params = ("WHERE status = ?", (status.value,)) if status else ("", ())
        with self._db.read() as tx:
            rows = tx.fetchall(
                f"SELECT * FROM jobs {where} ORDER BY created_ms DESC, id LIMIT ?",
                (*params, limit),
            )
        return [job_from_row(r) for r in rows]

    def count_by_status(self) -> dict[JobStatus, int]:
        """Queue depth for metrics: every status, zero included."""
        with self._db.read() as tx:
            rows = tx.fetchall("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
        counts = dict.fromkeys(JobStatus, 0)
        counts.update({JobStatus(r["status"]): int(r["n"]) for r in rows})
        return counts

    def attempts(self, job_id: str) -> list[JobAttempt]:
        with self._db.read() as tx:
            rows = tx.fetchall(
                "SELECT * FROM job_attempts WHERE job_id = ? ORDER BY attempt", (job_id,)
            )
        return [
            JobAttempt(
                job_id=r["job_id"],
                attempt=int(r["attempt"]),
                worker=r["worker"],
                started_at=from_ms(int(r["started_ms"])),
                ended_at=from_ms(int(r["ended_ms"])) if r["ended_ms"] is not None else None,
                outcome=r["outcome"],
                error=r["error"],
            )
            for r in rows
        ]

    # -- runners -----------------------------------------------------------------------

    def has_due_work(self, kinds: Sequence[str]) -> bool:
        """Cheap read-only poll, so idle workers do not take the write lock."""
        if not kinds:
            return False
        now_ms = to_ms(self.clock())
        with self._db.read() as tx:
            row = tx.fetchone(
                "SELECT 1 AS due FROM jobs WHERE (status = 'queued' AND run_after_ms <= ?"
                f" AND kind IN ({_marks(kinds)}))"
                " OR (status = 'running' AND lease_expires_ms < ?) LIMIT 1",
                (now_ms, *kinds, now_ms),
            )
        return row is not None

    def claim(self, worker_id: str, kinds: Sequence[str], lease: timedelta) -> Claim | None:
        """Re-queues jobs whose lease expired, then takes the oldest due job of `kinds`."""
        if not kinds:
            return None
        now_ms = to_ms(self.clock())
        token = uuid.uuid4().hex
        with self._db.transaction() as tx:
            _recover_expired(tx, now_ms)
            row = tx.fetchone(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1,"
                " lease_owner = ?, lease_token = ?, lease_expires_ms = ?,"
                " progress = 0, progress_message = '', updated_ms = ?"
                " WHERE id = (SELECT id FROM jobs WHERE status = 'queued' AND run_after_ms <= ?"
                f" AND kind IN ({_marks(kinds)})"
                " ORDER BY run_after_ms, created_ms, id LIMIT 1"
                f"{skip_locked(tx.dialect)}) RETURNING *",
                (worker_id, token, now_ms + _ms(lease), now_ms, now_ms, *kinds),
            )
            if row is None:
                return None
            tx.execute(
                "INSERT INTO job_attempts (job_id, attempt, worker, started_ms, outcome)"
                " VALUES (?, ?, ?, ?, 'running')",
                (row["id"], row["attempts"], worker_id, now_ms),
            )
        return Claim(job=job_from_row(row), token=token)

    def heartbeat(
        self,
        claim: Claim,
        lease: timedelta,
        progress: int | None = None,
        message: str | None = None,
    ) -> bool:
        """Extends the lease (and records progress when given); False if the lease was
        lost, in which case the runner must stop."""
        now_ms = to_ms(self.clock())
        sets = ["lease_expires_ms = ?", "updated_ms = ?"]
        params: list[Any] = [now_ms + _ms(lease), now_ms]
        if progress is not None:
            if not 0 <= progress <= 100:
                raise ValueError("progress is a percentage, 0 to 100")
            sets.append("progress = ?")
            params.append(progress)
        if message is not None:
            sets.append("progress_message = ?")
            params.append(message[:500])
        with self._db.transaction() as tx:
            changed = tx.execute(
                f"UPDATE jobs SET {', '.join(sets)}"
                " WHERE id = ? AND lease_token = ? AND status = 'running'",
                (*params, claim.job.id, claim.token),
            )
        return changed == 1

    def complete(self, claim: Claim, result: Mapping[str, Any] | None) -> bool:
        """Marks the job succeeded; False if the lease was lost (the result is dropped:
        the current lease holder will produce its own)."""
        result_text = canonical_json(dict(result)) if result is not None else None
        now_ms = to_ms(self.clock())
        with self._db.transaction() as tx:
            changed = tx.execute(
                "UPDATE jobs SET status = 'succeeded', result = ?, error = NULL, progress = 100,"
                " lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL,"
                " updated_ms = ?, finished_ms = ?"
                " WHERE id = ? AND lease_token = ? AND status = 'running'",
                (result_text, now_ms, now_ms, claim.job.id, claim.token),
            )
            if changed == 1:
                _end_attempt(tx, claim, "succeeded", None, now_ms)
        return changed == 1

    def fail(
        self, claim: Claim, error: str, *, retryable: bool, retry_at: datetime | None = None
    ) -> JobStatus | None:
        """Records a failed run. Retryable failures re-queue the job (due at `retry_at`)
        while attempts remain; otherwise it fails for good. Returns the new status, or
        None if the lease was lost. `error` must be a message safe to show."""
        now_ms = to_ms(self.clock())
        with self._db.transaction() as tx:
            row = tx.fetchone(
                "UPDATE jobs SET"
                " status = CASE WHEN ? = 1 AND attempts < max_attempts"
                "   THEN 'queued' ELSE 'failed' END,"
                " finished_ms = CASE WHEN ? = 1 AND attempts < max_attempts"
                "   THEN NULL ELSE ? END,"
                " run_after_ms = ?, error = ?,"
                " lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL,"
                " updated_ms = ?"
                " WHERE id = ? AND lease_token = ? AND status = 'running' RETURNING status",
                (
                    int(retryable),
                    int(retryable),
                    now_ms,
                    to_ms(retry_at) if retry_at else now_ms,
                    error[:1000],
                    now_ms,
                    claim.job.id,
                    claim.token,
                ),
            )
            if row is None:
                return None
            status = JobStatus(row["status"])
            outcome = "retry" if status is JobStatus.QUEUED else "failed"
            _end_attempt(tx, claim, outcome, error[:1000], now_ms)
        return status

    # -- housekeeping ------------------------------------------------------------------

    def purge_finished(self, before: datetime, *, dry_run: bool = False) -> int:
        """Deletes succeeded/failed jobs finished before `before` (attempts go with them);
        queued and running jobs are never touched. `dry_run` counts them instead. A purged
        job's idempotency key is free again: enqueueing it later runs the job anew."""
        return purge_rows(
            self._db,
            "jobs",
            ("id",),
            "status IN ('succeeded', 'failed') AND finished_ms < ?",
            (to_ms(before),),
            dry_run=dry_run,
        )


def _recover_expired(tx: Transaction, now_ms: int) -> None:
    """Jobs whose runner stopped heartbeating: the attempt is 'lost'; the job is queued
    again while attempts remain, else failed."""
    tx.execute(
        "UPDATE job_attempts SET outcome = 'lost', ended_ms = ?, error = ?"
        " WHERE outcome = 'running' AND EXISTS (SELECT 1 FROM jobs"
        "  WHERE jobs.id = job_attempts.job_id AND jobs.attempts = job_attempts.attempt"
        "  AND jobs.status = 'running' AND jobs.lease_expires_ms < ?)",
        (now_ms, LOST_LEASE_ERROR, now_ms),
    )
    tx.execute(
        "UPDATE jobs SET"
        " status = CASE WHEN attempts < max_attempts THEN 'queued' ELSE 'failed' END,"
        " finished_ms = CASE WHEN attempts < max_attempts THEN NULL ELSE ? END,"
        " error = ?, run_after_ms = ?,"
        " lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL, updated_ms = ?"
        " WHERE status = 'running' AND lease_expires_ms < ?",
        (now_ms, LOST_LEASE_ERROR, now_ms, now_ms, now_ms),
    )


def _end_attempt(
    tx: Transaction, claim: Claim, outcome: str, error: str | None, now_ms: int
) -> None:
    tx.execute(
        "UPDATE job_attempts SET outcome = ?, error = ?, ended_ms = ?"
        " WHERE job_id = ? AND attempt = ?",
        (outcome, error, now_ms, claim.job.id, claim.job.attempts),
    )


def _marks(values: Sequence[str]) -> str:
    return ", ".join("?" for _ in values)


def _ms(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)
