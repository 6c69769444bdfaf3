"""Purge methods (both backends): batched deletes, dry-run counts, and the repositories that
had none (audit trail, CDS feedback, sign-off pairs, finished jobs with a dry run)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from cds_hooks.models import Feedback
from plugin.store import Store, open_store
from plugin.store.audit import AuditEntry, AuditOutcome
from plugin.store.dialect import Dialect
from plugin.store.jobs import JobStatus
from plugin.store.purge import purge_rows
from plugin.store.signoff_pairs import SignoffPair

LEASE = timedelta(seconds=60)


def _audit(store: Store, n: int) -> None:
    for _ in range(n):
        store.audit.record(AuditEntry(actor="system", action="read", outcome=AuditOutcome.SUCCESS))


def _audit_rows(store: Store) -> int:
    return len(store.audit.recent(limit=10_000))


@pytest.mark.parametrize("rows,batch,batches", [(25, 10, 3), (20, 10, 3), (3, 10, 1)])
def test_deletes_in_batches_and_pauses_between_them_on_sqlite(
    store: Store, rows: int, batch: int, batches: int
) -> None:
    _audit(store, rows)
    pauses: list[float] = []
    deleted = purge_rows(
        store.db,
        "audit_log",
        ("id",),
        "at_ms <= ?",
        (10**15,),
        batch_rows=batch,
        sleep=pauses.append,
    )
    assert deleted == rows
    assert _audit_rows(store) == 0
    # a pause after every full batch (a short one ends the loop), on SQLite only
    expected = batches - 1 if store.db.dialect is Dialect.SQLITE else 0
    assert len(pauses) == expected
    assert all(0 < p <= 0.25 for p in pauses)


def test_dry_run_counts_and_deletes_nothing(store: Store) -> None:
    _audit(store, 4)
    for _ in range(2):
        assert purge_rows(store.db, "audit_log", ("id",), "at_ms > ?", (0,), dry_run=True) == 4
    assert _audit_rows(store) == 4
    assert purge_rows(store.db, "audit_log", ("id",), "at_ms < ?", (0,)) == 0
    assert _audit_rows(store) == 4


@pytest.mark.parametrize(
    "table,keys", [("audit_log; DROP TABLE jobs", ("id",)), ("audit_log", ()), ("jobs", ("1",))]
)
def test_table_and_key_names_must_be_identifiers(
    store: Store, table: str, keys: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError):
        purge_rows(store.db, table, keys, "1 = 1", ())


def test_purgers_running_at_once_split_the_work(store: Store, store_url: str) -> None:
    """Two processes' purges (separate connection pools) delete each row exactly once."""
    _audit(store, 300)
    totals: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def purge() -> None:
        try:
            with open_store(store_url, migrate_schema=False) as other:
                start.wait()
                totals.append(
                    purge_rows(other.db, "audit_log", ("id",), "at_ms > ?", (0,), batch_rows=7)
                )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=purge) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sum(totals) == 300 and _audit_rows(store) == 0


def test_audit_trail_purge_by_time(store: Store, clock) -> None:
    _audit(store, 2)
    clock.advance(days=10)
    kept = store.audit.record(
        AuditEntry(actor="system", action="grade", outcome=AuditOutcome.SUCCESS)
    )
    cutoff = clock() - timedelta(days=5)
    assert store.audit.purge_older_than(cutoff, dry_run=True) == 2
    assert _audit_rows(store) == 3
    assert store.audit.purge_older_than(cutoff) == 2
    assert store.audit.recent() == [kept]
    assert store.audit.purge_older_than(cutoff) == 0


def _feedback(card: str) -> Feedback:
    return Feedback.model_validate(
        {"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-01-15T09:00:00Z"}
    )


def test_feedback_purge_by_time_received(store: Store, clock) -> None:
    assert store.feedback.record("dr-screening", _feedback("card-old"))
    clock.advance(days=31)
    assert store.feedback.record("dr-screening", _feedback("card-new"))
    cutoff = clock() - timedelta(days=30)
    assert store.feedback.purge_older_than(cutoff, dry_run=True) == 1
    assert len(store.feedback.for_service("dr-screening")) == 2
    assert store.feedback.purge_older_than(cutoff) == 1
    assert [r.card for r in store.feedback.for_service("dr-screening")] == ["card-new"]
    # a purged item resent by the EHR is new again (stored once more)
    assert store.feedback.record("dr-screening", _feedback("card-old"))


def _pair(pair_id: str) -> SignoffPair:
    return SignoffPair(
        pair_id=pair_id,
        lang="en",
        engine="rules",
        model="advice-rules@0.1.0",
        draft="Draft.",
        signed="Signed.",
    )


def test_signoff_pairs_purge_by_time_stored(store: Store, clock) -> None:
    store.signoff_pairs.add(_pair("CarePlan/1/_history/2"))
    clock.advance(days=400)
    store.signoff_pairs.add(_pair("CarePlan/2/_history/2"))
    cutoff = clock() - timedelta(days=365)
    assert store.signoff_pairs.purge_older_than(cutoff, dry_run=True) == 1
    assert store.signoff_pairs.count() == 2
    assert store.signoff_pairs.purge_older_than(cutoff) == 1
    assert [p.pair_id for p in store.signoff_pairs.iter_pairs()] == ["CarePlan/2/_history/2"]


def test_finished_jobs_purge_spares_queued_and_running_ones(store: Store, clock) -> None:
    done, _ = store.jobs.enqueue("grade", {}, "done")
    claim = store.jobs.claim("w", ["grade"], LEASE)
    assert claim is not None and store.jobs.complete(claim, None)
    failed, _ = store.jobs.enqueue("grade", {}, "failed", max_attempts=1)
    claim = store.jobs.claim("w", ["grade"], LEASE)
    assert claim is not None
    assert store.jobs.fail(claim, "bad payload", retryable=False) is JobStatus.FAILED
    running, _ = store.jobs.enqueue("grade", {}, "running")
    claim = store.jobs.claim("w", ["grade"], timedelta(days=365))
    assert claim is not None and claim.job.id == running.id
    queued, _ = store.jobs.enqueue("grade", {}, "queued")
    clock.advance(days=100)
    cutoff = clock() - timedelta(days=90)
    assert store.jobs.purge_finished(cutoff, dry_run=True) == 2
    assert store.jobs.get(done.id) is not None
    assert store.jobs.purge_finished(cutoff) == 2
    assert store.jobs.get(done.id) is None and store.jobs.attempts(done.id) == []
    assert store.jobs.get(failed.id) is None
    assert store.jobs.get(running.id) is not None and store.jobs.get(queued.id) is not None
    # the purged job's key is free again: the same work is accepted as a new job
    again, created = store.jobs.enqueue("grade", {}, "done")
    assert created and again.id != done.id


def test_expired_sessions_and_jwt_ids_dry_run(store: Store, clock) -> None:
    store.sessions.put("session-1", b"sealed", clock() + timedelta(hours=8))
    store.replay_cache.check_and_store(
        "https://ehr.example", "jti-1", clock() + timedelta(minutes=5)
    )
    assert store.sessions.purge_expired(dry_run=True) == 0
    clock.advance(hours=9)
    assert store.sessions.purge_expired(dry_run=True) == 1
    assert store.replay_cache.purge_expired(dry_run=True) == 1
    assert store.sessions.purge_expired() == 1 and store.replay_cache.purge_expired() == 1
    assert store.sessions.purge_expired(dry_run=True) == 0
