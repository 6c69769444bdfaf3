"""Worker runtime: handlers, progress, retries, safe errors, lost leases, threads."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from plugin.jobs import (
    Backoff,
    HandlerRegistry,
    JobError,
    JobQueue,
    LeaseLost,
    Progress,
    UnknownJobKind,
    Worker,
    WorkerOptions,
)
from plugin.jobs.runner import run_worker_process
from plugin.store import Store, open_store
from plugin.store.jobs import JobStatus

NO_JITTER = Backoff(base_s=10, factor=2, max_s=60, jitter=0)
OPTIONS = WorkerOptions(threads=1, lease=timedelta(seconds=30), backoff=NO_JITTER)


def _registry(**handlers: Any) -> HandlerRegistry:
    registry = HandlerRegistry()
    for kind, handler in handlers.items():
        registry.register(kind, handler)
    return registry


def test_handler_result_and_progress_are_visible(store: Store) -> None:
    seen_mid_run: list[tuple[int, str]] = []

    def grade(payload: dict[str, Any], progress: Progress) -> dict[str, Any]:
        progress(50, "right eye graded")
        job = store.jobs.get(progress.job_id)
        assert job is not None
        seen_mid_run.append((job.progress, job.progress_message))
        return {"grade": payload["n"] * 2, "attempt": progress.attempt}

    registry = _registry(grade=grade)
    job = JobQueue(store.jobs, registry).enqueue("grade", {"n": 21}, "g:1")
    worker = Worker(store.jobs, registry, OPTIONS)
    assert worker.run_until_idle() == 1
    done = store.jobs.get(job.id)
    assert done is not None and done.status is JobStatus.SUCCEEDED
    assert done.result == {"grade": 42, "attempt": 1}
    assert seen_mid_run == [(50, "right eye graded")]


def test_retryable_error_backs_off_then_succeeds(store: Store, clock) -> None:
    calls: list[int] = []

    def flaky(payload: dict[str, Any], progress: Progress) -> None:
        calls.append(progress.attempt)
        if progress.attempt == 1:
            raise JobError("FHIR server unavailable")

    registry = _registry(flaky=flaky)
    job, _ = store.jobs.enqueue("flaky", {}, "f:1", max_attempts=3)
    worker = Worker(store.jobs, registry, OPTIONS)
    assert worker.run_until_idle() == 1
    waiting = store.jobs.get(job.id)
    assert waiting is not None and waiting.status is JobStatus.QUEUED
    assert waiting.error == "FHIR server unavailable"
    assert waiting.run_after == clock() + timedelta(seconds=10)
    clock.advance(seconds=9)
    assert worker.run_until_idle() == 0
    clock.advance(seconds=1)
    assert worker.run_until_idle() == 1
    done = store.jobs.get(job.id)
    assert done is not None and done.status is JobStatus.SUCCEEDED and calls == [1, 2]


def test_permanent_error_fails_at_once(store: Store) -> None:
    def bad(payload: dict[str, Any], progress: Progress) -> None:
        raise JobError("payload names no image", retryable=False)

    job, _ = store.jobs.enqueue("bad", {}, "b:1", max_attempts=5)
    Worker(store.jobs, _registry(bad=bad), OPTIONS).run_until_idle()
    done = store.jobs.get(job.id)
    assert done is not None and done.status is JobStatus.FAILED and done.attempts == 1
    assert done.error == "payload names no image"


def test_crash_stores_and_logs_no_exception_text(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    def crash(payload: dict[str, Any], progress: Progress) -> None:
        raise KeyError(f"patient {payload['name']} has no MRN")

    job, _ = store.jobs.enqueue("crash", {"name": "Jane Doe"}, "c:1", max_attempts=1)
    with caplog.at_level(logging.DEBUG, logger="deepdr.jobs"):
        Worker(store.jobs, _registry(crash=crash), OPTIONS).run_until_idle()
    done = store.jobs.get(job.id)
    assert done is not None and done.status is JobStatus.FAILED
    assert done.error == "internal error (KeyError)"
    assert "KeyError" in caplog.text
    assert "Jane" not in caplog.text and "MRN" not in caplog.text


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (["not", "an", "object"], "other than a JSON object"),
        ({"when": object()}, "not JSON-serialisable"),
    ],
)
def test_unusable_results_fail_the_job(store: Store, result: Any, message: str) -> None:
    job, _ = store.jobs.enqueue("odd", {}, "o:1")
    Worker(store.jobs, _registry(odd=lambda p, progress: result), OPTIONS).run_until_idle()
    done = store.jobs.get(job.id)
    assert done is not None and done.status is JobStatus.FAILED
    assert done.error is not None and message in done.error


def test_lost_lease_stops_the_handler_and_discards_its_result(store: Store, clock) -> None:
    outcomes: list[str] = []

    def slow(payload: dict[str, Any], progress: Progress) -> dict[str, str]:
        clock.advance(seconds=31)  # this runner stalls past its lease...
        taken = store.jobs.claim("other-worker", ["slow"], timedelta(seconds=30))
        assert taken is not None  # ...and another runner takes the job over
        try:
            progress(90, "almost done")
        except LeaseLost:
            outcomes.append("told to stop")
            raise
        return {"from": "stale runner"}

    job, _ = store.jobs.enqueue("slow", {}, "s:1")
    Worker(store.jobs, _registry(slow=slow), OPTIONS, worker_id="stalled").run_until_idle()
    assert outcomes == ["told to stop"]
    current = store.jobs.get(job.id)
    assert current is not None and current.status is JobStatus.RUNNING
    assert current.lease_owner == "other-worker" and current.result is None


def test_queue_refuses_unknown_kinds_and_wakes_workers_on_new_jobs(store: Store) -> None:
    wakes: list[int] = []
    queue = JobQueue(store.jobs, _registry(known=lambda p, progress: None), lambda: wakes.append(1))
    with pytest.raises(UnknownJobKind):
        queue.enqueue("unknown", {}, "u:1")
    first = queue.enqueue("known", {"a": 1}, "k:1")
    again = queue.enqueue("known", {"a": 1}, "k:1")
    assert first.id == again.id and wakes == [1]
    assert queue.status(first.id) is not None


def test_registry_refuses_duplicates() -> None:
    registry = _registry(a=lambda p, progress: None)
    with pytest.raises(ValueError):
        registry.register("a", lambda p, progress: None)
    with pytest.raises(UnknownJobKind):
        registry.handler("b")


def test_backoff_grows_caps_and_jitters() -> None:
    assert [NO_JITTER.delay(n).total_seconds() for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 60, 60]
    jittered = Backoff(base_s=10, jitter=0.1)
    delays = {jittered.delay(1).total_seconds() for _ in range(50)}
    assert all(9 <= d <= 11 for d in delays) and len(delays) > 1


def test_worker_threads_run_every_job_once(store_url: str) -> None:
    """Real clock, three threads, jobs enqueued while the worker runs."""
    runs: dict[int, int] = {}
    lock = threading.Lock()

    def count(payload: dict[str, Any], progress: Progress) -> None:
        with lock:
            runs[payload["i"]] = runs.get(payload["i"], 0) + 1

    registry = _registry(count=count)
    with open_store(store_url) as store:
        worker = Worker(store.jobs, registry, WorkerOptions(threads=3, poll_interval_s=0.05))
        queue = JobQueue(store.jobs, registry, worker.wake)
        worker.start()
        try:
            for i in range(20):
                queue.enqueue("count", {"i": i}, f"count:{i}")
            deadline = time.monotonic() + 60
            while store.jobs.count_by_status()[JobStatus.SUCCEEDED] < 20:
                assert time.monotonic() < deadline, "jobs did not finish"
                time.sleep(0.05)
        finally:
            worker.stop(timeout_s=30)
    assert runs == {i: 1 for i in range(20)}


def test_stop_lets_the_running_job_finish(store_url: str) -> None:
    started, release = threading.Event(), threading.Event()

    def wait_for_release(payload: dict[str, Any], progress: Progress) -> dict[str, bool]:
        started.set()
        release.wait(30)
        return {"finished": True}

    registry = _registry(wait=wait_for_release)
    with open_store(store_url) as store:
        job, _ = store.jobs.enqueue("wait", {}, "w:1")
        worker = Worker(store.jobs, registry, WorkerOptions(threads=1, poll_interval_s=0.05))
        worker.start()
        assert started.wait(30)
        stopper = threading.Thread(target=worker.stop)
        stopper.start()
        release.set()
        stopper.join(30)
        done = store.jobs.get(job.id)
    assert done is not None and done.status is JobStatus.SUCCEEDED
    assert done.result == {"finished": True}


@pytest.mark.slow
def test_heartbeat_keeps_a_long_run_leased(store_url: str) -> None:
    """A run longer than its lease keeps it: the heartbeat thread extends it."""
    started, release = threading.Event(), threading.Event()
    lease = timedelta(seconds=1.5)

    def long_run(payload: dict[str, Any], progress: Progress) -> None:
        started.set()
        release.wait(30)

    registry = _registry(long=long_run)
    with open_store(store_url) as store:
        job, _ = store.jobs.enqueue("long", {}, "l:1")
        worker = Worker(store.jobs, registry, WorkerOptions(threads=1, lease=lease))
        worker.start()
        try:
            assert started.wait(30)
            time.sleep(3 * lease.total_seconds())  # well past the first lease
            assert store.jobs.claim("thief", ["long"], lease) is None
        finally:
            release.set()
            worker.stop(timeout_s=30)
        done = store.jobs.get(job.id)
    assert done is not None and done.status is JobStatus.SUCCEEDED and done.attempts == 1


def test_worker_process_runner_stops_on_request(store_url: str) -> None:
    stop = threading.Event()
    ran = threading.Event()

    def mark(payload: dict[str, Any], progress: Progress) -> None:
        ran.set()
        stop.set()

    with open_store(store_url) as store:
        job, _ = store.jobs.enqueue("mark", {}, "m:1")
    exit_codes: list[int] = []
    runner = threading.Thread(
        target=lambda: exit_codes.append(
            run_worker_process(
                store_url,
                _registry(mark=mark),
                WorkerOptions(threads=1, poll_interval_s=0.05),
                stop=stop,
            )
        )
    )
    runner.start()
    runner.join(60)
    assert exit_codes == [0] and ran.is_set()
    with open_store(store_url) as store:
        done = store.jobs.get(job.id)
    assert done is not None and done.status is JobStatus.SUCCEEDED
