"""Per-eye Observations: codes, values, absent values, components, references; and the
consistency checks on the grading."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_mappers.outbound import OutboundInputError, ScreeningContext
from fhir_mappers.outbound.common import Built
from fhir_mappers.outbound.observations import check_grading, eye_observations
from models.grader.result import EyeGrading, Laterality, ModelInfo, PatientGrading

LOINC = "http://loinc.org"
DEEPDR = "https://deepdr-fhir.org/fhir/CodeSystem/deepdr"
SNOMED = "http://snomed.info/sct"
DEVICE = "urn:uuid:00000000-0000-5000-8000-000000000000"


def codes(concept: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for c in concept.get("coding", [])}


def by_name(built: list[Built]) -> dict[str, dict[str, Any]]:
    return {b.name.rsplit("/", 1)[1]: b.resource for b in built}


def build(grading: PatientGrading, context: ScreeningContext, side: Laterality) -> list[Built]:
    eye = grading.eye(side)
    assert eye is not None
    return eye_observations(eye, context, "k" * 64, grading.model, DEVICE)


def test_gradable_right_eye_has_all_heads(grading, context) -> None:
    obs = by_name(build(grading, context, Laterality.RIGHT))
    assert set(obs) == {
        "image-quality",
        "dr-severity",
        "macular-edema",
        "referable-dr",
        "retinal-lesions",
    }
    sev = obs["dr-severity"]
    assert codes(sev["code"]) == {(LOINC, "71491-5")}
    assert codes(sev["valueCodeableConcept"]) == {(LOINC, "LA18645-4")}  # moderate NPDR
    assert sev["valueCodeableConcept"]["text"] == "ICDR 2: moderate NPDR"
    probs = [c["valueQuantity"]["value"] for c in sev["component"]]
    assert probs == [0.025, 0.025, 0.9, 0.025, 0.025]
    assert codes(obs["macular-edema"]["code"]) == {(LOINC, "71489-9")}
    assert codes(obs["macular-edema"]["valueCodeableConcept"]) == {(SNOMED, "2667000")}  # absent
    ref = obs["referable-dr"]
    assert codes(ref["valueCodeableConcept"]) == {(SNOMED, "52101004")}  # present
    assert ref["interpretation"][0]["coding"][0]["code"] == "POS"
    assert ref["component"][0]["valueQuantity"]["value"] == 0.8
    assert any("0.500" in n["text"] for n in ref["note"])  # the decision threshold


def test_common_fields_on_every_observation(grading, context) -> None:
    for resource in by_name(build(grading, context, Laterality.RIGHT)).values():
        assert resource["status"] == "preliminary"
        assert resource["subject"] == {"reference": "Patient/p1"}
        assert resource["device"] == {"reference": DEVICE}
        assert resource["effectiveDateTime"] == "2024-05-01T09:00:00+00:00"
        assert resource["issued"] == "2024-05-01T09:05:00+00:00"
        assert codes(resource["bodySite"]) == {(SNOMED, "18944008")}
        assert resource["derivedFrom"] == [{"reference": "Media/m-r1"}]
        assert resource["meta"]["security"][0]["code"] == "AIAST"
        assert {c["coding"][0]["code"] for c in resource["category"]} == {"exam", "imaging"}


def test_identifiers_are_distinct_per_eye_and_kind(grading, context) -> None:
    built = build(grading, context, Laterality.RIGHT) + build(grading, context, Laterality.LEFT)
    values = [b.resource["identifier"][0]["value"] for b in built]
    assert len(set(values)) == len(values)
    assert len({b.full_url for b in built}) == len(built)


def test_ungradable_eye_gets_absent_severity_and_quality_reasons(grading, context) -> None:
    obs = by_name(build(grading, context, Laterality.LEFT))
    assert set(obs) == {"image-quality", "dr-severity"}
    sev = obs["dr-severity"]
    assert codes(sev["code"]) == {(LOINC, "71490-7")}
    assert not any(k.startswith("value") for k in sev)
    assert sev["dataAbsentReason"]["coding"][0]["code"] == "unknown"
    quality = obs["image-quality"]
    assert codes(quality["valueCodeableConcept"]) == {(DEEPDR, "ungradable")}
    assert quality["component"][0]["valueQuantity"]["value"] == 0.15
    assert any("too dark" in n["text"] for n in quality["note"])
    assert codes(quality["bodySite"]) == {(SNOMED, "8966001")}
    assert quality["derivedFrom"] == [{"reference": "ImagingStudy/s-l1"}]


def test_unknown_side_uses_our_codes_and_no_body_site(image, context) -> None:
    grading = PatientGrading.from_images(
        [image("u1", Laterality.UNKNOWN)], image("x", Laterality.UNKNOWN).model
    )
    obs = by_name(build(grading, context, Laterality.UNKNOWN))
    assert codes(obs["dr-severity"]["code"]) == {(DEEPDR, "dr-severity")}
    assert codes(obs["macular-edema"]["code"]) == {(DEEPDR, "macular-edema")}
    assert all("bodySite" not in o for o in obs.values())
    assert all("derivedFrom" not in o for o in obs.values())  # u1 has no FHIR source


def test_missing_heads_give_no_observation(image, context) -> None:
    img = image("r1", Laterality.RIGHT, grade=None, referable=None, dme=None, lesions={})
    grading = PatientGrading.from_images([img], img.model)
    obs = by_name(build(grading, context, Laterality.RIGHT))
    assert set(obs) == {"image-quality"}
    assert codes(obs["image-quality"]["valueCodeableConcept"]) == {(DEEPDR, "gradable")}


def test_lesion_components(image, context) -> None:
    img = image(
        "r1", Laterality.RIGHT, lesions={"MA": (0.91, True), "EX": (0.2, False), "NV": (0.7, True)}
    )
    grading = PatientGrading.from_images([img], img.model)
    lesions = by_name(build(grading, context, Laterality.RIGHT))["retinal-lesions"]
    comps = {
        (c["code"].get("coding") or [{"code": c["code"]["text"]}])[0]["code"]: c
        for c in lesions["component"]
    }
    assert set(comps) == {"lesion-EX", "lesion-MA", "Lesion NV"}
    assert comps["lesion-MA"]["valueQuantity"]["value"] == 0.91
    assert comps["lesion-MA"]["interpretation"][0]["coding"][0]["code"] == "POS"
    assert comps["lesion-EX"]["interpretation"][0]["coding"][0]["code"] == "NEG"
    assert codes(lesions["valueCodeableConcept"]) == {(SNOMED, "52101004")}


def test_unreadable_images_are_counted_not_described(image, context) -> None:
    bad = image("r2", Laterality.RIGHT, error="/home/alice/patient-123.jpg: truncated")
    grading = PatientGrading.from_images([bad], bad.model)
    quality = by_name(build(grading, context, Laterality.RIGHT))["image-quality"]
    notes = " ".join(n["text"] for n in quality["note"])
    assert "1 image(s) could not be read" in notes
    assert "alice" not in notes and "patient-123" not in notes
    assert "component" not in quality  # no image has a quality score


def test_decisive_image_decides_derived_from_lists_all(image, context) -> None:
    worse = image("r1", Laterality.RIGHT, grade=3, referable=0.95)
    better = image("r2", Laterality.RIGHT, grade=1, referable=0.2)
    grading = PatientGrading.from_images([better, worse], worse.model)
    ctx = context.model_copy(update={"image_sources": {"r1": "Media/a", "r2": "Media/b"}})
    obs = by_name(build(grading, ctx, Laterality.RIGHT))
    assert codes(obs["dr-severity"]["valueCodeableConcept"]) == {(LOINC, "LA18646-2")}
    assert obs["dr-severity"]["derivedFrom"] == [{"reference": "Media/b"}, {"reference": "Media/a"}]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        ("two_right_eyes", "two entries for the right eye"),
        ("decisive_missing", "decisive image is not among its images"),
        ("decisive_ungradable", "decisive image is not gradable"),
        ("wrong_side", "another laterality"),
        ("other_model", "different model"),
        ("no_eyes", "no eyes"),
        ("duplicate_image", "lists an image twice"),
    ],
)
def test_inconsistent_gradings_are_rejected(image, mutate: str, message: str) -> None:
    r1 = image("r1", Laterality.RIGHT)
    model = r1.model
    eye = EyeGrading(laterality=Laterality.RIGHT, images=(r1,), decisive_image_id="r1")
    if mutate == "two_right_eyes":
        grading = PatientGrading(eyes=(eye, eye), model=model)
    elif mutate == "decisive_missing":
        grading = PatientGrading(
            eyes=(eye.model_copy(update={"decisive_image_id": "zz"}),), model=model
        )
    elif mutate == "decisive_ungradable":
        bad = image("r2", Laterality.RIGHT, gradable=False)
        grading = PatientGrading(
            eyes=(EyeGrading(laterality=Laterality.RIGHT, images=(bad,), decisive_image_id="r2"),),
            model=model,
        )
    elif mutate == "wrong_side":
        left = image("l1", Laterality.LEFT)
        grading = PatientGrading(
            eyes=(EyeGrading(laterality=Laterality.RIGHT, images=(left,)),), model=model
        )
    elif mutate == "other_model":
        grading = PatientGrading(eyes=(eye,), model=ModelInfo(name="other", version="9"))
    elif mutate == "no_eyes":
        grading = PatientGrading(eyes=(), model=model)
    else:
        grading = PatientGrading(
            eyes=(EyeGrading(laterality=Laterality.RIGHT, images=(r1, r1)),), model=model
        )
    with pytest.raises(OutboundInputError, match=message):
        check_grading(grading)
