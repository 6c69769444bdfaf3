"""DiagnosticReport: codes, references to images and results, conclusion."""

from __future__ import annotations

from fhir_mappers.outbound.common import Built
from fhir_mappers.outbound.report import conclusion, conclusion_codes, diagnostic_report
from models.grader.result import Laterality, PatientGrading

OBS = [Built("observation/right/x", {"resourceType": "Observation"}, "urn:uuid:1")]


def test_report_fields(grading, context) -> None:
    report = diagnostic_report(grading, context, "k" * 64, OBS).resource
    assert report["status"] == "preliminary"
    assert report["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "103592-2",
        "display": "Retinal eye screening report Document",
    }
    assert report["category"][0]["coding"][0]["code"] == "394594003"
    assert report["subject"] == {"reference": "Patient/p1"}
    assert report["result"] == [{"reference": "urn:uuid:1"}]
    assert report["imagingStudy"] == [{"reference": "ImagingStudy/s-l1"}]
    assert report["media"] == [{"link": {"reference": "Media/m-r1"}}]
    assert report["identifier"][0]["value"] == "k" * 64
    assert report["meta"]["security"][0]["code"] == "AIAST"
    assert "performer" not in report  # R4: a Device cannot perform a DiagnosticReport


def test_conclusion_text_is_per_eye_and_names_the_model(grading) -> None:
    text = conclusion(grading)
    assert text.startswith("Right eye: moderate NPDR; referable DR suspected (p=0.80)")
    assert "lesions: microaneurysms" in text
    assert "Left eye: ungradable" in text
    assert "deepdr-ref 0.1.0" in text
    assert text.index("Right eye") < text.index("Left eye")


def test_conclusion_codes(image) -> None:
    referable = image("r1", Laterality.RIGHT, referable=0.9)
    clear = image("l1", Laterality.LEFT, grade=0, referable=0.1)
    ungradable = image("l2", Laterality.LEFT, gradable=False)
    model = referable.model
    assert conclusion_codes(PatientGrading.from_images([referable, clear], model)) == [
        "referable-dr-suspected"
    ]
    assert conclusion_codes(PatientGrading.from_images([clear], model)) == ["no-referable-dr"]
    assert conclusion_codes(
        PatientGrading.from_images([clear, image("r9", Laterality.RIGHT, gradable=False)], model)
    ) == [
        "no-referable-dr",
        "ungradable-eye",
    ]
    assert conclusion_codes(PatientGrading.from_images([ungradable], model)) == ["ungradable-eye"]
    # A bundle without a referable head says neither "suspected" nor "not detected".
    no_head = image("r1", Laterality.RIGHT, referable=None)
    assert conclusion_codes(PatientGrading.from_images([no_head], model)) == []


def test_no_image_sources_means_no_image_links(grading, context) -> None:
    ctx = context.model_copy(update={"image_sources": {}})
    report = diagnostic_report(grading, ctx, "k" * 64, OBS).resource
    assert "imagingStudy" not in report and "media" not in report
