"""Store benchmark: prints throughput and latency figures for both backends.

    python -m plugin.store.bench [--jobs 500] [--threads 4] [--no-postgres]

Measures what the web and job workers do most: replay-cache checks (one per CDS call),
grading-cache hits, job enqueue, and the claim -> complete cycle with concurrent
workers (each with its own connection pool, as separate processes would have). The
PostgreSQL figures come from a throwaway local server (fsync off), so they show the cost
of our SQL and round trips, not of a production server's durability settings.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from models.grader.result import DrGrade, ImageGrading, ModelInfo, Quality
from plugin.store.clock import utc_now
from plugin.store.database import Database
from plugin.store.jobs import JobRepository
from plugin.store.local_postgres import LocalPostgres
from plugin.store.store import open_store

LEASE = timedelta(seconds=60)


def _latency_ms(op: Callable[[int], object], n: int) -> tuple[float, float, float]:
    """(median ms, p95 ms, ops/s) of `op(i)` run n times in this thread."""
    samples = []
    start = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        op(i)
        samples.append((time.perf_counter() - t0) * 1000)
    total = time.perf_counter() - start
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (n - 1))], n / total


def _claim_complete(url: str, threads: int) -> tuple[int, float]:
    """Concurrent workers drain the queue; returns (jobs done, seconds)."""
    done = [0] * threads
    barrier = threading.Barrier(threads + 1)

    def drain(slot: int) -> None:
        db = Database(url)
        repo = JobRepository(db)
        barrier.wait()
        while (claim := repo.claim(f"bench-{slot}", ["bench"], LEASE)) is not None:
            repo.complete(claim, {"ok": True})
            done[slot] += 1
        db.close()

    workers = [threading.Thread(target=drain, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    return sum(done), time.perf_counter() - start


def bench(url: str, label: str, n_jobs: int, threads: int) -> None:
    store = open_store(url)
    model = ModelInfo(name="bench", version="1")
    grading = ImageGrading(
        image_id="Media/1",
        quality=Quality(gradable=True, score=0.9),
        dr_grade=DrGrade(probabilities=(0.6, 0.1, 0.1, 0.1, 0.1), grade=0),
        model=model,
        sha256=hashlib.sha256(b"img").hexdigest(),
    )
    store.grading_cache.put(grading)
    exp = utc_now() + timedelta(minutes=5)
    assert grading.sha256 is not None
    sha = grading.sha256
    rows = [
        (
            "replay check (new jti)",
            _latency_ms(
                lambda i: store.replay_cache.remember("iss", f"j{i}", exp.timestamp()), 500
            ),
        ),
        ("grading cache hit", _latency_ms(lambda i: store.grading_cache.get(sha, model), 500)),
        (
            "job enqueue",
            _latency_ms(lambda i: store.jobs.enqueue("bench", {"i": i}, f"b{i}"), n_jobs),
        ),
    ]
    print(f"\n{label}")
    for name, (median, p95, rate) in rows:
        print(f"  {name:<24} median {median:6.2f} ms   p95 {p95:6.2f} ms   {rate:8.0f} ops/s")
    count, seconds = _claim_complete(url, threads)
    print(
        f"  claim+complete, {threads} workers: {count} jobs in {seconds:.2f} s"
        f" = {count / seconds:.0f} jobs/s"
    )
    store.close()


@contextmanager
def _postgres(enabled: bool) -> Iterator[str | None]:
    if not enabled:
        yield None
        return
    with LocalPostgres(dbname="bench") as pg:
        yield pg.dsn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench(f"sqlite:///{tmp}/bench.sqlite3", "SQLite (WAL, file)", args.jobs, args.threads)
    with _postgres(not args.no_postgres) as dsn:
        if dsn:
            bench(dsn, "PostgreSQL (local, fsync off)", args.jobs, args.threads)


if __name__ == "__main__":
    main()
