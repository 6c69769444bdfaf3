"""The demo's screening part: photographs moved to DICOMweb for some patients, every
patient screened with a grader, the table's label comparison, the re-run that writes
nothing new, and the JSON output."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date

import pytest

from models.grader.result import BinaryFinding, DrGrade, ImageGrading, ModelInfo, Quality
from plugin.demo.generate import generate_demo
from plugin.demo.pacs import DICOMWEB_SCENARIOS, attachment_route, without_photos
from plugin.demo.photos import PhotoLibrary
from plugin.demo.run import run_demo
from plugin.imaging.results import RetrievedImage

AS_OF = date(2025, 3, 1)


class LabelGrader:
    """The synthetic photos encode their grade in the red channel (grade * 40)."""

    model = ModelInfo(name="label-grader", version="1")

    def __init__(self) -> None:
        self.graded = 0

    def grade(self, images: Sequence[RetrievedImage]) -> list[ImageGrading]:
        self.graded += len(images)
        out = []
        for img in images:
            grade = min(4, round(float(img.rgb[..., 0].mean()) / 40))
            probs = [0.0] * 5
            probs[grade] = 1.0
            out.append(
                ImageGrading(
                    image_id=img.image_id,
                    quality=Quality(gradable=True, score=1.0),
                    dr_grade=DrGrade(probabilities=tuple(probs), grade=grade),  # type: ignore[arg-type]
                    referable=BinaryFinding(probability=float(grade >= 2), positive=grade >= 2),
                    model=self.model,
                )
            )
        return out


def test_photos_come_out_of_the_bundle_and_routes_are_named(library: PhotoLibrary) -> None:
    patients = generate_demo(seed=5, as_of=AS_OF, library=library)
    routes = {p.scenario.key: attachment_route(p) for p in patients}
    assert set(routes.values()) == {"Media", "DocumentReference"}
    for demo in patients:
        stripped = without_photos(demo)
        kinds = [e["resource"]["resourceType"] for e in stripped["entry"]]
        assert "Media" not in kinds and "DocumentReference" not in kinds
        assert len(stripped["entry"]) == len(demo.bundle["entry"]) - len(demo.photos)
        assert demo.bundle["entry"][0]["resource"]["resourceType"] == "Patient"  # untouched
    assert routes.keys() >= DICOMWEB_SCENARIOS


@pytest.mark.integration
def test_demo_screens_every_patient_over_three_routes(
    library: PhotoLibrary, capsys: pytest.CaptureFixture[str]
) -> None:
    grader = LabelGrader()
    lines: list[str] = []
    results = run_demo(seed=4, as_of=AS_OF, out=lines.append, library=library, grader=grader)
    assert {r.route for r in results} == {"DICOMweb", "Media", "DocumentReference"}
    for r in results:
        assert r.screening is not None, (r.demo.scenario.key, r.error)
        assert r.screening.status == "complete" and r.screening.written is not None
        assert "diagnostic-report" in r.screening.written.references
        eyes = {e["eye"]: e["dr_grade"] for e in r.screening.stored.summary["eyes"]}
        assert eyes == {p.eye: p.dr_grade for p in r.demo.photos}, r.demo.scenario.key
        if r.demo.scenario.key in DICOMWEB_SCENARIOS:
            assert r.route == "DICOMweb"
            assert all(i.kind.value == "ImagingStudy" for i in r.facts.images)
    eyes_total = sum(len(r.demo.photos) for r in results)
    outcomes = [r.screening.grading for r in results if r.screening and r.screening.grading]
    assert sum(g.graded + g.cache_hits for g in outcomes) == eyes_total
    # The same photograph (same bytes) in two records is graded once; the re-run grades none.
    assert grader.graded == sum(g.graded for g in outcomes) < eyes_total
    footer = lines[-1]
    assert f"label for {eyes_total} of {eyes_total} graded eyes" in footer
    assert "gradings from the cache, 0 new resources written" in footer


@pytest.mark.integration
def test_demo_json_has_the_screenings(library: PhotoLibrary) -> None:
    lines: list[str] = []
    run_demo(
        seed=4,
        as_of=AS_OF,
        json_output=True,
        out=lines.append,
        library=library,
        grader=LabelGrader(),
        dicomweb=False,
        rerun=False,
    )
    (text,) = lines
    results = json.loads(text)
    assert {r["route"] for r in results} == {"Media", "DocumentReference"}
    for r in results:
        assert r["error"] is None and r["screening"]["status"] == "complete"
        assert r["screening"]["written"]["diagnostic-report"].startswith("DiagnosticReport/")
        assert len(r["screening"]["summary"]["eyes"]) == len(r["photos"])
