"""The job table: idempotent enqueue, atomic claims, leases, retries, recovery."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from plugin.store import Database, IdempotencyConflict, Store
from plugin.store.jobs import LOST_LEASE_ERROR, JobRepository, JobStatus

LEASE = timedelta(seconds=30)


def test_same_key_same_job_never_twice(store: Store) -> None:
    jobs = store.jobs
    first, created = jobs.enqueue("write-back", {"report": "DiagnosticReport/1"}, "wb:1")
    again, created_again = jobs.enqueue("write-back", {"report": "DiagnosticReport/1"}, "wb:1")
    assert (created, created_again) == (True, False)
    assert again.id == first.id
    assert jobs.count_by_status()[JobStatus.QUEUED] == 1
    with pytest.raises(IdempotencyConflict):
        jobs.enqueue("write-back", {"report": "DiagnosticReport/2"}, "wb:1")
    with pytest.raises(IdempotencyConflict):
        jobs.enqueue("grade", {"report": "DiagnosticReport/1"}, "wb:1")


def test_bad_enqueue_arguments(store: Store) -> None:
    with pytest.raises(ValueError):
        store.jobs.enqueue("", {}, "k")
    with pytest.raises(ValueError):
        store.jobs.enqueue("k", {}, "")
    with pytest.raises(ValueError):
        store.jobs.enqueue("k", {}, "key", max_attempts=0)
    with pytest.raises(ValueError):
        store.jobs.enqueue("k", {"x": object()}, "key")


def test_claim_takes_oldest_due_job_of_known_kinds(store: Store, clock) -> None:
    jobs = store.jobs
    a, _ = jobs.enqueue("grade", {"n": 1}, "a")
    clock.advance(seconds=1)
    jobs.enqueue("grade", {"n": 2}, "b")
    jobs.enqueue("other", {"n": 3}, "c")
    jobs.enqueue("grade", {"n": 4}, "later", run_after=clock() + timedelta(minutes=5))
    assert jobs.claim("w", ["nobody-handles-this"], LEASE) is None
    claim = jobs.claim("w", ["grade"], LEASE)
    assert claim is not None and claim.job.id == a.id
    assert claim.job.status is JobStatus.RUNNING and claim.job.attempts == 1
    assert claim.job.lease_owner == "w"
    second = jobs.claim("w", ["grade"], LEASE)
    assert second is not None and second.job.payload == {"n": 2}
    assert jobs.claim("w", ["grade"], LEASE) is None  # "later" is not due yet
    assert jobs.complete(claim, None) and jobs.complete(second, None)
    clock.advance(minutes=5)
    assert jobs.has_due_work(["grade"])
    third = jobs.claim("w", ["grade"], LEASE)
    assert third is not None and third.job.idempotency_key == "later"


def test_progress_and_completion_need_the_current_lease(store: Store) -> None:
    jobs = store.jobs
    job, _ = jobs.enqueue("grade", {}, "k")
    claim = jobs.claim("w", ["grade"], LEASE)
    assert claim is not None
    assert jobs.heartbeat(claim, LEASE, progress=40, message="grading right eye")
    seen = jobs.get(job.id)
    assert seen is not None and (seen.progress, seen.progress_message) == (40, "grading right eye")
    with pytest.raises(ValueError):
        jobs.heartbeat(claim, LEASE, progress=101)
    assert jobs.complete(claim, {"report": "DiagnosticReport/9"})
    done = jobs.get(job.id)
    assert done is not None and done.status is JobStatus.SUCCEEDED and done.progress == 100
    assert done.result == {"report": "DiagnosticReport/9"} and done.finished_at is not None
    assert not jobs.heartbeat(claim, LEASE)  # finished: nothing to extend
    assert not jobs.complete(claim, {"again": True})
    assert [a.outcome for a in jobs.attempts(job.id)] == ["succeeded"]


def test_retryable_failure_requeues_until_attempts_run_out(store: Store, clock) -> None:
    jobs = store.jobs
    job, _ = jobs.enqueue("grade", {}, "k", max_attempts=2)
    first = jobs.claim("w", ["grade"], LEASE)
    assert first is not None
    retry_at = clock() + timedelta(seconds=10)
    assert jobs.fail(first, "FHIR server unavailable", retryable=True, retry_at=retry_at) is (
        JobStatus.QUEUED
    )
    assert jobs.claim("w", ["grade"], LEASE) is None  # backoff: not due yet
    clock.advance(seconds=10)
    second = jobs.claim("w", ["grade"], LEASE)
    assert second is not None and second.job.attempts == 2
    assert jobs.fail(second, "FHIR server unavailable", retryable=True) is JobStatus.FAILED
    final = jobs.get(job.id)
    assert final is not None and final.status is JobStatus.FAILED
    assert final.error == "FHIR server unavailable" and final.finished_at is not None
    assert [a.outcome for a in jobs.attempts(job.id)] == ["retry", "failed"]
    assert jobs.fail(second, "late", retryable=True) is None  # lease gone


def test_permanent_failure_stops_at_once(store: Store) -> None:
    job, _ = store.jobs.enqueue("grade", {}, "k", max_attempts=5)
    claim = store.jobs.claim("w", ["grade"], LEASE)
    assert claim is not None
    assert store.jobs.fail(claim, "payload names no image", retryable=False) is JobStatus.FAILED


def test_expired_lease_is_recovered_and_stale_runner_is_shut_out(store: Store, clock) -> None:
    jobs = store.jobs
    job, _ = jobs.enqueue("grade", {}, "k", max_attempts=2)
    dead = jobs.claim("worker-that-dies", ["grade"], LEASE)
    assert dead is not None
    clock.advance(seconds=29)
    assert jobs.claim("other", ["grade"], LEASE) is None  # lease still valid
    clock.advance(seconds=2)
    assert jobs.has_due_work(["grade"])
    taken = jobs.claim("other", ["grade"], LEASE)
    assert taken is not None and taken.job.attempts == 2 and taken.job.lease_owner == "other"
    # The first runner comes back to life: everything it says is refused.
    assert not jobs.heartbeat(dead, LEASE, progress=90)
    assert not jobs.complete(dead, {"from": "stale runner"})
    assert jobs.fail(dead, "x", retryable=True) is None
    assert jobs.complete(taken, {"from": "current runner"})
    final = jobs.get(job.id)
    assert final is not None and final.result == {"from": "current runner"}
    attempts = jobs.attempts(job.id)
    assert [(a.worker, a.outcome) for a in attempts] == [
        ("worker-that-dies", "lost"),
        ("other", "succeeded"),
    ]
    assert attempts[0].error == LOST_LEASE_ERROR


def test_expired_lease_on_last_attempt_fails_the_job(store: Store, clock) -> None:
    job, _ = store.jobs.enqueue("grade", {}, "k", max_attempts=1)
    assert store.jobs.claim("w", ["grade"], LEASE) is not None
    clock.advance(minutes=1)
    assert store.jobs.claim("w", ["grade"], LEASE) is None
    final = store.jobs.get(job.id)
    assert final is not None and final.status is JobStatus.FAILED
    assert final.error == LOST_LEASE_ERROR


def test_concurrent_claimers_never_share_a_job(store_url: str, store: Store, clock) -> None:
    for i in range(30):
        store.jobs.enqueue("grade", {"i": i}, f"job-{i}")
    claimed: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(5)
    errors: list[BaseException] = []

    def claimer(name: str) -> None:
        db = Database(store_url)
        repo = JobRepository(db, clock)
        try:
            barrier.wait()
            while (claim := repo.claim(name, ["grade"], LEASE)) is not None:
                with lock:
                    claimed.append(claim.job.id)
                repo.complete(claim, None)
        except BaseException as exc:  # collected and checked in the test thread
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(claimed) == 30 and len(set(claimed)) == 30
    assert store.jobs.count_by_status()[JobStatus.SUCCEEDED] == 30


def test_status_view_hides_payload_and_lease(store: Store) -> None:
    job, _ = store.jobs.enqueue("grade", {"patient": "Patient/123"}, "k")
    view = store.jobs.get(job.id).status_view()  # type: ignore[union-attr]
    assert view["status"] == "queued" and view["progress"] == 0
    assert "Patient/123" not in repr(view) and "lease" not in repr(view)


def test_purge_finished(store: Store, clock) -> None:
    old, _ = store.jobs.enqueue("grade", {}, "old")
    claim = store.jobs.claim("w", ["grade"], LEASE)
    assert claim is not None and store.jobs.complete(claim, None)
    store.jobs.enqueue("grade", {}, "pending")
    clock.advance(days=8)
    assert store.jobs.purge_finished(clock() - timedelta(days=7)) == 1
    assert store.jobs.get(old.id) is None and store.jobs.attempts(old.id) == []
    assert store.jobs.get_by_key("pending") is not None
