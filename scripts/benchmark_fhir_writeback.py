"""Benchmark of the FHIR write-back: building + validating the transaction Bundle (pure),
and writing it to the bundled FHIR server (first write, then a retry that creates nothing).
Prints figures; asserts nothing.

    .venv/bin/python scripts/benchmark_fhir_writeback.py [--runs 5] [--preload 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from fhir_mappers.outbound import (
    AdviceForFhir,
    CarePlanItem,
    ReferralForFhir,
    ScreeningContext,
    WriteRequest,
    build_write_bundle,
)
from models.grader.result import (
    BinaryFinding,
    DrGrade,
    ImageGrading,
    Laterality,
    LesionFinding,
    ModelInfo,
    PatientGrading,
    Quality,
)
from plugin.fhir.http_gateway import HttpFhirGateway
from plugin.fhir.writeback import write
from plugin.local_servers.fhir_server import LocalFhirServer

MODEL = ModelInfo(name="bench-grader", version="1.0")


def _image(image_id: str, side: Laterality) -> ImageGrading:
    return ImageGrading(
        image_id=image_id,
        laterality=side,
        quality=Quality(gradable=True, score=0.9),
        dr_grade=DrGrade(probabilities=(0.1, 0.1, 0.6, 0.1, 0.1), grade=2),
        referable=BinaryFinding(probability=0.7, positive=True),
        dme=BinaryFinding(probability=0.2, positive=False),
        lesions={k: LesionFinding(probability=0.5, present=True) for k in ("MA", "HE", "EX", "SE")},
        model=MODEL,
        sha256=image_id * 8,
    )


def request(patient_ref: str) -> WriteRequest:
    grading = PatientGrading.from_images(
        [_image("r", Laterality.RIGHT), _image("l", Laterality.LEFT)], MODEL
    )
    items = tuple(
        CarePlanItem(section="glucose", text=f"Advice item {i}.", rule_id=f"R-{i}")
        for i in range(9)
    )
    return WriteRequest(
        context=ScreeningContext(
            patient_ref=patient_ref,
            effective=datetime(2024, 1, 1, tzinfo=UTC),
            issued=datetime(2024, 1, 1, 0, 5, tzinfo=UTC),
        ),
        grading=grading,
        advice=AdviceForFhir(items=items, engine=ModelInfo(name="bench-advice", version="1")),
        referral=ReferralForFhir(reason="referable DR", eyes=(Laterality.RIGHT,)),
    )


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def show(label: str, ms: list[float]) -> None:
    print(
        f"{label:<44} median {statistics.median(ms):7.1f} ms   max {max(ms):7.1f} ms   n={len(ms)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--preload", type=int, default=20, help="earlier writes on the server")
    args = parser.parse_args()
    req = request("Patient/bench")
    entries = len(build_write_bundle(req).entries)
    print(f"write-back of 2 eyes + 9 advice items + referral: {entries} entries")
    show("build + validate Bundle (pure)", timed(lambda: build_write_bundle(req), args.runs * 4))
    with LocalFhirServer() as server, HttpFhirGateway(server.base_url) as gw:
        for label, preload in (("empty server", 0), (f"after {args.preload} writes", args.preload)):
            for _ in range(preload):
                write(gw, build_write_bundle(request(_patient(gw))), max_entries=8)
            firsts, retries = [], []
            for _ in range(args.runs):
                built = build_write_bundle(request(_patient(gw)))
                firsts += timed(lambda b=built: write(gw, b, max_entries=8), 1)  # type: ignore[misc]
                retries += timed(lambda b=built: write(gw, b, max_entries=8), 1)  # type: ignore[misc]
            show(f"first write, {label} (8 entries/tx)", firsts)
            show(f"retry, nothing created, {label}", retries)
    print("(the bundled server's memory repository scans every resource of a type for each")
    print(" conditional create, so its times grow with what it holds; a real server indexes)")


def _patient(gw: HttpFhirGateway) -> str:
    return gw.create({"resourceType": "Patient"}).reference


if __name__ == "__main__":
    main()
