"""The worker's periodic purge, driven by a fake clock: `wait` moves the store's clock instead
of sleeping, so days pass in microseconds."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest

from plugin.config import RetentionSettings
from plugin.store import Store
from plugin.store.audit import AuditEntry, AuditOutcome
from plugin.store.errors import StoreUnavailable
from plugin.store.retention import RetentionReport, purge_store
from plugin.store.retention_schedule import PeriodicPurge


class FakeWait:
    """Stands in for `stop.wait(seconds)`: advances the clock by `seconds` and reports a stop
    after `rounds` waits. Records the delays asked for."""

    def __init__(self, clock, rounds: int, between=None) -> None:
        self.clock = clock
        self.rounds = rounds
        self.between = between  # called after each wait that does not stop
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> bool:
        self.delays.append(seconds)
        if len(self.delays) > self.rounds:
            return True
        self.clock.advance(seconds=seconds)
        if self.between:
            self.between()
        return False


def _audit(store: Store) -> None:
    store.audit.record(AuditEntry(actor="system", action="read", outcome=AuditOutcome.SUCCESS))


def test_purges_soon_after_start_then_every_interval(store: Store, clock) -> None:
    policy = RetentionSettings(audit_log_days=2)
    reports: list[RetentionReport] = []

    def run_once() -> RetentionReport:
        reports.append(purge_store(store, policy))
        return reports[-1]

    _audit(store)  # at t0
    wait = FakeWait(clock, rounds=4, between=lambda: _audit(store))  # one more row per wait
    schedule = PeriodicPurge(
        run_once, timedelta(hours=24), threading.Event(), first_delay_s=30, wait=wait
    )
    schedule.run()
    assert wait.delays == [30, 86400, 86400, 86400, 86400]
    assert schedule.runs == 4
    # rows at t0, then at each purge's time: t0+30 s, +1 d, +2 d, +3 d. Keeping 2 days, the
    # third purge takes the t0 row, the fourth the t0+30 s one.
    assert [r.total_rows for r in reports] == [0, 0, 1, 1]
    assert [r.at - reports[0].at for r in reports] == [timedelta(days=d) for d in range(4)]
    assert len(store.audit.recent()) == 3


def test_stop_before_the_first_run_purges_nothing() -> None:
    stop = threading.Event()
    stop.set()
    calls: list[int] = []
    schedule = PeriodicPurge(lambda: calls.append(1), timedelta(hours=1), stop)  # type: ignore[arg-type,return-value]
    schedule.run()
    assert calls == [] and schedule.runs == 0


def test_a_failed_run_is_logged_by_type_and_retried_next_interval(
    store: Store, clock, caplog: pytest.LogCaptureFixture
) -> None:
    outcomes: list[str] = []

    def run_once() -> RetentionReport:
        if not outcomes:
            outcomes.append("failed")
            raise StoreUnavailable("lost the connection to Patient/secret-77")
        outcomes.append("ok")
        return purge_store(store, RetentionSettings())

    wait = FakeWait(clock, rounds=2)
    caplog.set_level(logging.INFO, logger="deepdr.store.retention")
    PeriodicPurge(run_once, timedelta(hours=1), threading.Event(), first_delay_s=0, wait=wait).run()
    assert outcomes == ["failed", "ok"]
    messages = [r.getMessage() for r in caplog.records]
    assert "retention purge failed: StoreUnavailable" in messages
    assert "retention purge: 0 rows deleted" in messages
    assert "secret-77" not in caplog.text


def test_the_log_line_carries_counts_per_kind(
    store: Store, clock, caplog: pytest.LogCaptureFixture
) -> None:
    store.sessions.put("s-1", b"sealed", clock() + timedelta(minutes=1))
    caplog.set_level(logging.INFO, logger="deepdr.store.retention")
    wait = FakeWait(clock, rounds=1)
    PeriodicPurge(
        lambda: purge_store(store, RetentionSettings()),
        timedelta(hours=1),
        threading.Event(),
        first_delay_s=120,
        wait=wait,
    ).run()
    (record,) = [r for r in caplog.records if r.getMessage().startswith("retention purge:")]
    assert record.getMessage() == "retention purge: 1 rows deleted"
    assert record.__dict__["purged_smart_sessions"] == 1
    assert "purged_jwt_replay" not in record.__dict__


def test_runs_in_a_thread_until_stopped(store: Store) -> None:
    stop = threading.Event()
    ran = threading.Event()

    def run_once() -> RetentionReport:
        report = purge_store(store, RetentionSettings())
        ran.set()
        return report

    schedule = PeriodicPurge(run_once, timedelta(hours=24), stop, first_delay_s=0)
    thread = schedule.start()
    assert ran.wait(30)
    stop.set()
    schedule.join(30)
    assert not thread.is_alive() and schedule.runs == 1
    with pytest.raises(RuntimeError):
        schedule.start()


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError):
        PeriodicPurge(lambda: None, timedelta(0), threading.Event())  # type: ignore[arg-type,return-value]
