"""Screening workflow timings: per stage, cold (first screening of each demo patient: images
graded, results written) and warm (the same screenings again: gradings from the cache,
nothing new written), against the bundled FHIR server on loopback. Prints figures; asserts
nothing.

    .venv/bin/python scripts/benchmark_screening.py [--rounds 3] [--bundle DIR] [--no-grade]

Photographs are the demo's (Media / DocumentReference attachments, from the shared data).
Without a grader bundle the images are neither fetched nor graded (say --no-grade to
measure that deliberately).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from plugin.demo.generate import generate_demo
from plugin.demo.photos import PhotoLibrary
from plugin.demo.run import load_patient
from plugin.fhir import HttpFhirGateway
from plugin.local_servers.fhir_server import LocalFhirServer
from plugin.store import open_store
from plugin.workflow import Grader, GraderUnavailable, ScreeningOptions, ScreeningService
from plugin.workflow.grader import load_grader

STAGES = ("record", "images", "grade", "advise", "write", "store")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(label: str, runs: list[dict[str, float]]) -> None:
    print(f"\n{label}: {len(runs)} screenings")
    print(f"  {'stage':<8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for stage in (*STAGES, "total"):
        values = [r[stage] for r in runs if stage in r]
        if values:
            p50, p95 = statistics.median(values), percentile(values, 0.95)
            print(f"  {stage:<8} {p50:>8.1f} {p95:>8.1f} {max(values):>8.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="warm rounds after the cold one")
    parser.add_argument("--bundle", type=Path, help="grader bundle (default: the shipped one)")
    parser.add_argument("--no-grade", action="store_true")
    args = parser.parse_args()

    grader: Grader | None = None
    if not args.no_grade:
        try:
            grader = load_grader(args.bundle)
        except GraderUnavailable as exc:
            print(f"no grader: {exc.message}; measuring without grading")
    library = PhotoLibrary.open()
    if library is None:
        print("shared photographs not found: patients have no images")
    today = date.today()
    patients = generate_demo(seed=20240, as_of=today, library=library)
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalFhirServer() as server,
        HttpFhirGateway(server.base_url, timeout_s=60) as gw,
        open_store(f"sqlite:///{tmp}/bench.sqlite3") as store,
    ):
        refs = [f"Patient/{load_patient(gw, p)}" for p in patients]
        service = ScreeningService(gw, store=store, grader=grader, clock=lambda: datetime.now(UTC))
        options = ScreeningOptions(grade=grader is not None, require_images=False)
        cold: list[dict[str, float]] = []
        warm: list[dict[str, float]] = []
        images = 0
        for round_no in range(1 + args.rounds):
            for ref in refs:
                start = time.perf_counter()
                result = service.screen(ref, options)
                timings = dict(result.timings_ms)
                timings["total"] = (time.perf_counter() - start) * 1000
                (cold if round_no == 0 else warm).append(timings)
                if round_no == 0:
                    images += len(result.images.images)
    model = f"{grader.model.name} {grader.model.version}" if grader else "none"
    print(f"grader: {model}; {len(refs)} patients, {images} images; FHIR server on loopback")
    report("cold (graded, written)", cold)
    report("warm (cache hits, nothing new written)", warm)
    return 0


if __name__ == "__main__":
    sys.exit(main())
