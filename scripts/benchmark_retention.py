"""Retention purge benchmark: how long a purge takes, and how long it makes a concurrent
writer wait: the store's purge (plugin/store/purge.py: batches on SQLite) against one big
DELETE.

    python scripts/benchmark_retention.py [--rows 200000] [--batch 2000] [--postgres]

Fills the grading cache with `--rows` old results (about 700 bytes of JSON each, as the
grader writes), then purges them while another thread does what every CDS call does: one
JWT-replay insert (a short write transaction) every 10 ms. Prints the purge's duration and
the writer's median, p99 and worst latency during it. SQLite has one writer at a time, so
the writer waits behind each purge transaction; PostgreSQL (a throwaway local server, fsync
off) only locks the rows being deleted.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from models.grader.result import DrGrade, ImageGrading, ModelInfo, Quality  # noqa: E402
from plugin.store.local_postgres import LocalPostgres  # noqa: E402
from plugin.store.purge import purge_rows  # noqa: E402
from plugin.store.store import Store, open_store  # noqa: E402

MODEL = ModelInfo(name="deepdr-bench", version="1.0.0")


def fill(store: Store, rows: int) -> None:
    sample = ImageGrading(
        image_id="Media/1",
        quality=Quality(gradable=True, score=0.9),
        dr_grade=DrGrade(probabilities=(0.8, 0.05, 0.05, 0.05, 0.05), grade=0),
        model=MODEL,
        sha256="0" * 64,
    )
    text = sample.model_dump_json()
    chunk = 5000
    for start in range(0, rows, chunk):
        values = [
            (hashlib.sha256(str(i).encode()).hexdigest(), MODEL.name, MODEL.version, text, 0)
            for i in range(start, min(rows, start + chunk))
        ]
        with store.db.transaction() as tx:
            for value in values:
                tx.execute(
                    "INSERT INTO grading_cache (image_sha256, model_name, model_version,"
                    " result, created_ms) VALUES (?, ?, ?, ?, ?)",
                    value,
                )


def one_statement(store: Store) -> int:
    with store.db.transaction() as tx:
        return tx.execute("DELETE FROM grading_cache WHERE created_ms < ?", (1,))


def batched(batch: int) -> Callable[[Store], int]:
    """The store's purge: batches on SQLite, one DELETE on PostgreSQL."""

    def run(store: Store) -> int:
        return purge_rows(
            store.db,
            "grading_cache",
            ("image_sha256", "model_name", "model_version"),
            "created_ms < ?",
            (1,),
            batch_rows=batch,
        )

    return run


def measure(store: Store, purge: Callable[[Store], int]) -> tuple[int, float, list[float]]:
    """(rows purged, purge seconds, writer latencies in ms during the purge)."""
    done = threading.Event()
    latencies: list[float] = []

    def writer() -> None:
        while not done.is_set():
            started = time.perf_counter()
            store.replay_cache.check_and_store(
                "https://ehr.example", uuid.uuid4().hex, datetime.now(UTC) + timedelta(minutes=5)
            )
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.01)

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.2)
    latencies.clear()
    started = time.perf_counter()
    rows = purge(store)
    seconds = time.perf_counter() - started
    done.set()
    thread.join()
    return rows, seconds, latencies


def report(name: str, rows: int, seconds: float, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0
    median = statistics.median(ordered) if ordered else 0.0
    print(
        f"  {name:<22} {rows:>8} rows in {seconds:6.2f} s ({rows / seconds:>8.0f} rows/s); "
        f"writer during it: median {median:6.1f} ms, p99 {p99:7.1f} ms, "
        f"worst {max(ordered, default=0.0):7.1f} ms ({len(ordered)} writes)"
    )


@contextmanager
def backends(postgres: bool) -> Iterator[list[tuple[str, str]]]:
    with tempfile.TemporaryDirectory() as tmp:
        urls = [("SQLite", f"sqlite:///{tmp}/bench.sqlite3")]
        if not postgres:
            yield urls
            return
        with LocalPostgres() as server:
            yield [*urls, ("PostgreSQL", server.create_schema("bench"))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--postgres", action="store_true", help="also a local PostgreSQL")
    args = parser.parse_args()
    with backends(args.postgres) as urls:
        for label, url in urls:
            print(f"{label}: purge {args.rows} grading-cache rows")
            with open_store(url) as store:
                for name, purge in (
                    ("one DELETE", one_statement),
                    ("the store's purge", batched(args.batch)),
                ):
                    fill(store, args.rows)
                    report(name, *measure(store, purge))
    return 0


if __name__ == "__main__":
    sys.exit(main())
