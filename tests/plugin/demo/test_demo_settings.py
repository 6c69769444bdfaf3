"""The demo screens as every screening does (plugin.workflow.factory): with settings, the
grader of [grader] (here grader.remote: the network on the local KServe v2 server) and the
deployment's advice.population."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from models.clinical_facts import Population
from plugin.config_loader import settings_from_mapping
from plugin.demo.photos import PhotoLibrary
from plugin.demo.run import run_demo

pytestmark = pytest.mark.integration

AS_OF = date(2025, 3, 1)
# (patient, eye, ICDR grade, maculopathy): every grade, with and without maculopathy.
EYES = [
    ("P001", "L", 0, "0"),
    ("P001", "R", 0, "0"),
    ("P002", "L", 1, "0"),
    ("P002", "R", 0, "0"),
    ("P003", "L", 2, "1"),
    ("P003", "R", 2, "0"),
    ("P004", "L", 3, "0"),
    ("P004", "R", 3, "1"),
    ("P005", "L", 4, ""),
    ("P005", "R", 4, ""),
    ("P006", "L", 2, "0"),
    ("P006", "R", 1, "0"),
]


@pytest.fixture
def fundus_library(tmp_path: Path, remote_tiny_grader: Any) -> PhotoLibrary:
    """The shared-data layout with fundus-like photographs the tiny grader can grade."""
    folder = tmp_path / "fundus" / "srahim-dr600"
    (folder / "images").mkdir(parents=True)
    photo = Image.open(io.BytesIO(remote_tiny_grader.photo)).convert("RGB")
    with (folder / "labels.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "patient_id", "eye", "split", "dr_grade", "maculopathy"])
        for i, (pid, eye, grade, mac) in enumerate(EYES):
            name = f"Patient{pid[1:]}_{eye}.jpg"
            tinted = photo.point(lambda v, k=i: min(255, v + 4 * k))  # distinct bytes per eye
            tinted.save(folder / "images" / name, "JPEG")
            w.writerow([name, pid, eye, "test", grade, mac])
    lib = PhotoLibrary.open(tmp_path)
    assert lib is not None
    return lib


def test_the_demo_grades_remotely_and_uses_the_deployment_population(
    fhir_base_url: str, fundus_library: PhotoLibrary, remote_tiny_grader: Any
) -> None:
    remote = remote_tiny_grader
    settings = settings_from_mapping({"grader": remote.grader, "advice": {"population": "chinese"}})
    before = remote.server.requests
    results = run_demo(
        seed=4,
        as_of=AS_OF,
        out=lambda _: None,
        library=fundus_library,
        base_url=fhir_base_url,
        dicomweb=False,
        rerun=False,
        settings=settings,
    )
    screened = [r.screening for r in results if r.screening is not None]
    graded = [s for s in screened if s.grading is not None and s.grading.graded]
    assert graded and all(s.stored.summary["model"]["name"] == "tiny" for s in graded)
    assert remote.server.requests > before
    # Patients whose record names no population get the deployment's (Chinese) BMI cut-offs.
    silent = [r for r in results if r.facts.population is None and r.screening is not None]
    populations = {
        fact.value
        for r in silent
        for item in (r.screening.advice.items if r.screening and r.screening.advice else ())
        for fact in item.facts_used
        if fact.name == "population"
    }
    assert populations == {Population.CHINESE.value}
