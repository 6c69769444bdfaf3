"""Periodic retention purge inside a long-running process (`deepdr-fhir worker`).

    schedule = PeriodicPurge(lambda: purge_store(store, policy), timedelta(hours=24), stop)
    schedule.start()            # a daemon thread: first purge soon after start, then every 24 h

Several workers may each run one: the purge is idempotent, so they only split the work. The
first run comes a random fraction of a minute after start (workers restarted together do
not purge in lockstep) and then every interval; restarting a worker therefore purges too,
so a fleet that restarts more often than the interval still purges. A failed run is logged
(counts and error types, never rows) and tried again at the next interval.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import timedelta

from plugin.store.retention import RetentionReport

log = logging.getLogger("deepdr.store.retention")

FIRST_RUN_WITHIN_S = 60.0


class PeriodicPurge:
    def __init__(
        self,
        run_once: Callable[[], RetentionReport],
        interval: timedelta,
        stop: threading.Event,
        *,
        first_delay_s: float | None = None,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        """`wait(seconds)` returns True when the process is stopping (default: `stop.wait`);
        tests pass one that moves a fake clock instead of sleeping."""
        if interval <= timedelta(0):
            raise ValueError("the purge interval must be positive")
        self._run_once = run_once
        self._interval_s = interval.total_seconds()
        self._stop = stop
        self._first_delay_s = (
            random.uniform(1.0, FIRST_RUN_WITHIN_S) if first_delay_s is None else first_delay_s
        )
        self._wait = wait or stop.wait
        self._thread: threading.Thread | None = None
        self.runs = 0  # completed purges, failed ones included

    def start(self) -> threading.Thread:
        if self._thread is not None:
            raise RuntimeError("the purge schedule is already running")
        self._thread = threading.Thread(target=self.run, name="deepdr-retention", daemon=True)
        self._thread.start()
        return self._thread

    def join(self, timeout_s: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)

    def run(self) -> None:
        """Purges on schedule until `stop` is set (blocks: `start` runs it in a thread)."""
        delay = self._first_delay_s
        while not self._stop.is_set() and not self._wait(delay):
            self._purge_once()
            delay = self._interval_s

    def _purge_once(self) -> None:
        try:
            report = self._run_once()
        except Exception as exc:  # the store may be down: try again at the next interval
            log.error("retention purge failed: %s", type(exc).__name__)
            return
        finally:
            self.runs += 1
        log.info(
            "retention purge: %d rows deleted",
            report.total_rows,
            extra={f"purged_{k.kind}": k.rows for k in report.kinds if k.rows},
        )
        for failed in report.failed:
            log.warning("retention purge of %s failed: %s", failed.kind, failed.error)
