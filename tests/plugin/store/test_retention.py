"""purge_store over both backends: every kind by the policy, defaults keep the audit trail,
feedback and sign-off pairs, dry runs count exactly what a purge deletes, a failing kind
does not stop the others."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from cds_hooks.models import Feedback
from models.grader.result import DrGrade, ImageGrading, ModelInfo, Quality
from plugin.config import RetentionSettings
from plugin.store import Store
from plugin.store.audit import AuditEntry, AuditOutcome
from plugin.store.image_sources import ImageSourceIndex, IndexedImage, IndexedSource
from plugin.store.retention import KINDS, RetentionReport, purge_store
from plugin.store.screenings import NewScreening, ScreeningRepository
from plugin.store.signoff_pairs import SignoffPair

MODEL = ModelInfo(name="deepdr-ref", version="1.2.0")
LEASE = timedelta(seconds=60)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def add_one_of_each(store: Store, tag: str) -> None:
    """One row of every kind, stamped with the store clock's now; sessions and JWT ids
    expire an hour later. Jobs: one finished, one queued, one running (long lease)."""
    now = store.clock()
    store.grading_cache.put(
        ImageGrading(
            image_id="Media/1",
            quality=Quality(gradable=True, score=0.9),
            dr_grade=DrGrade(probabilities=(0.8, 0.05, 0.05, 0.05, 0.05), grade=0),
            model=MODEL,
            sha256=_sha(tag),
        )
    )
    ImageSourceIndex(store.db, store.clock).put(
        IndexedSource(_sha("src" + tag), "Media/1", images=(IndexedImage("Media/1", _sha(tag)),))
    )
    ScreeningRepository(store.db, store.clock).save(
        NewScreening("https://ehr.example/fhir", "Patient/1", "key-" + tag, "complete")
    )
    store.jobs.enqueue("grade", {}, "done-" + tag)
    claim = store.jobs.claim("w", ["grade"], LEASE)
    assert claim is not None and store.jobs.complete(claim, None)
    store.jobs.enqueue("grade", {}, "running-" + tag)
    assert store.jobs.claim("w", ["grade"], timedelta(days=3650)) is not None
    store.jobs.enqueue("other", {}, "queued-" + tag)
    store.sessions.put("session-" + tag, b"sealed", now + timedelta(hours=1))
    store.replay_cache.check_and_store(
        "https://ehr.example", "jti-" + tag, now + timedelta(hours=1)
    )
    store.audit.record(AuditEntry(actor="system", action="read", outcome=AuditOutcome.SUCCESS))
    store.feedback.record(
        "dr-screening",
        Feedback.model_validate(
            {"card": "card-" + tag, "outcome": "overridden", "outcomeTimestamp": now.isoformat()}
        ),
    )
    store.signoff_pairs.add(
        SignoffPair("CarePlan/" + tag, "en", "rules", "advice-rules@0.1.0", "Draft.", "Signed.")
    )


def rows(report: RetentionReport) -> dict[str, int]:
    return {k.kind: k.rows for k in report.kinds}


def test_defaults_purge_old_caches_jobs_and_expired_rows_and_keep_the_rest(
    store: Store, clock
) -> None:
    add_one_of_each(store, "old")
    clock.advance(days=800)  # older than every default period (730 days the longest)
    add_one_of_each(store, "new")
    expected = {
        "grading_cache": 1,
        "cds_image_index": 1,
        "screenings": 1,
        "finished_jobs": 1,
        "smart_sessions": 1,
        "jwt_replay": 1,
        "audit_log": 0,
        "cds_feedback": 0,
        "signoff_pairs": 0,
    }
    dry = purge_store(store, RetentionSettings(), dry_run=True)
    assert dry.dry_run and rows(dry) == expected and dry.total_rows == 6 and not dry.failed
    assert rows(purge_store(store, RetentionSettings(), dry_run=True)) == expected  # unchanged
    report = purge_store(store, RetentionSettings())
    assert rows(report) == expected and not report.failed
    kept = {k.kind for k in report.kinds if k.kept_forever}
    assert kept == {"audit_log", "cds_feedback", "signoff_pairs"}
    assert rows(purge_store(store, RetentionSettings())) == dict.fromkeys(expected, 0)
    # what stays: the new rows, the old queued and running jobs, the kept-forever kinds
    assert store.grading_cache.get(_sha("new"), MODEL) is not None
    assert store.grading_cache.get(_sha("old"), MODEL) is None
    for key in ("running-old", "queued-old", "done-new"):
        assert store.jobs.get_by_key(key) is not None
    assert store.jobs.get_by_key("done-old") is None
    assert store.sessions.get("session-new") is not None
    assert len(store.audit.recent()) == 2 and store.signoff_pairs.count() == 2
    assert len(store.feedback.for_service("dr-screening")) == 2


def test_periods_set_for_audit_feedback_and_pairs_purge_them(store: Store, clock) -> None:
    add_one_of_each(store, "old")
    clock.advance(days=40)
    add_one_of_each(store, "new")
    policy = RetentionSettings(
        grading_cache_days=None,  # "forever"
        audit_log_days=30,
        cds_feedback_days=30,
        signoff_pairs_days=30,
    )
    report = purge_store(store, policy)
    assert rows(report) == {
        "grading_cache": 0,
        "cds_image_index": 0,
        "screenings": 0,
        "finished_jobs": 0,
        "smart_sessions": 1,
        "jwt_replay": 1,
        "audit_log": 1,
        "cds_feedback": 1,
        "signoff_pairs": 1,
    }
    assert [k.kind for k in report.kinds if k.kept_forever] == ["grading_cache"]
    assert store.signoff_pairs.get("CarePlan/new") is not None
    assert store.signoff_pairs.get("CarePlan/old") is None


def test_a_row_exactly_as_old_as_the_period_is_kept(store: Store, clock) -> None:
    add_one_of_each(store, "edge")
    clock.advance(days=365)
    policy = RetentionSettings(grading_cache_days=365)
    assert rows(purge_store(store, policy, dry_run=True))["grading_cache"] == 0
    clock.advance(milliseconds=1)
    assert rows(purge_store(store, policy))["grading_cache"] == 1


def test_a_failing_kind_is_reported_and_the_others_still_run(store: Store, clock) -> None:
    add_one_of_each(store, "old")
    clock.advance(days=800)
    with store.db.transaction() as tx:
        tx.execute("DROP TABLE cds_feedback")
    report = purge_store(store, RetentionSettings(cds_feedback_days=1))
    assert [k.kind for k in report.failed] == ["cds_feedback"]
    failed = report.failed[0]
    assert failed.rows == 0 and failed.error and "DELETE" not in failed.error.upper()
    assert rows(report)["signoff_pairs"] == 0 and rows(report)["grading_cache"] == 1


def test_every_kind_by_age_has_a_setting_and_every_setting_a_kind() -> None:
    by_age = {f"{k.name}_days" for k in KINDS if k.by_age}
    assert by_age | {"purge_interval_h"} == set(RetentionSettings.model_fields)
    assert len({k.name for k in KINDS}) == len(KINDS)


@pytest.mark.parametrize("dry_run", [True, False])
def test_an_empty_store_reports_zero_everywhere(store: Store, dry_run: bool) -> None:
    report = purge_store(store, RetentionSettings(audit_log_days=1), dry_run=dry_run)
    assert report.total_rows == 0 and not report.failed
    assert [k.kind for k in report.kinds] == [k.name for k in KINDS]
