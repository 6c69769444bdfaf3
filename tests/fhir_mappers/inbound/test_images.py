"""Fundus image references from ImagingStudy, Media and DocumentReference (no pixels)."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_mappers.inbound import clinical_facts_from_fhir
from models.clinical_facts import ImageSourceKind

DCM = "http://dicom.nema.org/resources/ontology/DCM"
SNOMED = "http://snomed.info/sct"


def _study(series: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    r = {
        "resourceType": "ImagingStudy",
        "id": "is1",
        "status": "available",
        "subject": {"reference": "Patient/p1"},
        "started": "2025-05-02T09:00:00Z",
        "identifier": [{"system": "urn:dicom:uid", "value": "urn:oid:1.2.3.4"}],
        "series": series,
    }
    return r | extra


def _series(
    modality: str = "OP",
    laterality: str | None = None,
    body: str | None = None,
    instances: tuple[str, ...] = ("1.2.3.4.1.1",),
    **extra: Any,
) -> dict[str, Any]:
    s: dict[str, Any] = {
        "uid": "1.2.3.4.1",
        "modality": {"system": DCM, "code": modality},
        "instance": [
            {
                "uid": uid,
                "sopClass": {
                    "system": "urn:ietf:rfc:3986",
                    "code": "urn:oid:1.2.840.10008.5.1.4.1.1.77.1.5.1",
                },
                "number": i + 1,
            }
            for i, uid in enumerate(instances)
        ],
    }
    if laterality:
        s["laterality"] = {"system": SNOMED, "code": laterality}
    if body:
        s["bodySite"] = {"system": SNOMED, "code": body}
    return s | extra


@pytest.mark.parametrize(
    ("laterality", "body", "side"),
    [
        ("419161000", None, "left"),
        ("419465000", None, "right"),
        ("7771000", None, "left"),
        ("24028007", None, "right"),
        ("51440002", None, "unknown"),
        (None, "8966001", "left"),
        (None, "18944008", "right"),
        (None, "40638003", "unknown"),
        (None, None, "unknown"),
    ],
)
def test_imaging_study_laterality(
    fhir: Any, laterality: str | None, body: str | None, side: str
) -> None:
    facts = fhir.facts(_study([_series(laterality=laterality, body=body)]))
    (img,) = facts.images
    assert img.kind == ImageSourceKind.IMAGING_STUDY
    assert img.laterality == side
    assert (img.study_uid, img.series_uid, img.instance_uid) == (
        "1.2.3.4",
        "1.2.3.4.1",
        "1.2.3.4.1.1",
    )
    assert img.source == "ImagingStudy/is1" and img.date is not None


def test_one_reference_per_instance_and_wado_url_from_the_endpoint(fhir: Any) -> None:
    endpoint = {
        "resourceType": "Endpoint",
        "id": "pacs",
        "status": "active",
        "connectionType": {"code": "dicom-wado-rs"},
        "address": "https://pacs.example/dicom-web/",
    }
    study = _study(
        [_series(laterality="419465000", instances=("1.1", "1.2"))],
        endpoint=[{"reference": "Endpoint/pacs"}],
    )
    facts = fhir.facts(study, endpoint)
    assert [i.instance_uid for i in facts.images] == ["1.1", "1.2"]
    assert facts.images[0].url == (
        "https://pacs.example/dicom-web/studies/1.2.3.4/series/1.2.3.4.1/instances/1.1"
    )
    assert facts.images[0].endpoint == "https://pacs.example/dicom-web"


def test_unresolved_endpoint_keeps_its_reference(fhir: Any) -> None:
    study = _study([_series()], endpoint=[{"reference": "Endpoint/elsewhere"}])
    (img,) = fhir.facts(study).images
    assert img.url is None and img.endpoint == "Endpoint/elsewhere"


def test_series_without_instances_gives_one_reference(fhir: Any) -> None:
    (img,) = fhir.facts(_study([_series(instances=())])).images
    assert img.series_uid == "1.2.3.4.1" and img.instance_uid is None


@pytest.mark.parametrize(
    ("modality", "body", "kept"),
    [
        ("OP", None, True),
        ("XC", "8966001", True),
        ("XC", None, False),  # external photo of what?
        ("OPT", "8966001", False),  # OCT, not a fundus photograph
        ("CT", None, False),
        ("", "18944008", True),
    ],
)
def test_which_series_are_fundus_photographs(
    fhir: Any, modality: str, body: str | None, kept: bool
) -> None:
    series = _series(modality=modality, body=body)
    if not modality:
        del series["modality"]
    assert bool(fhir.facts(_study([series])).images) is kept


@pytest.mark.parametrize(
    ("status", "kept"),
    [("available", True), ("registered", False), ("cancelled", False), ("entered-in-error", False)],
)
def test_imaging_study_status(fhir: Any, status: str, kept: bool) -> None:
    assert bool(fhir.facts(_study([_series()], status=status)).images) is kept


def _media(**extra: Any) -> dict[str, Any]:
    r = {
        "resourceType": "Media",
        "id": "me1",
        "status": "completed",
        "subject": {"reference": "Patient/p1"},
        "createdDateTime": "2025-05-02",
        "content": {"contentType": "image/jpeg", "url": "Binary/abc"},
    }
    return r | extra


@pytest.mark.parametrize(
    ("extra", "side"),
    [
        ({"bodySite": {"coding": [{"system": SNOMED, "code": "8966001"}]}}, "left"),
        ({"bodySite": {"coding": [{"system": SNOMED, "code": "18944008"}]}}, "right"),
        ({"bodySite": {"text": "Right eye"}}, "right"),
        ({"bodySite": {"text": "OS"}}, "left"),
        ({"bodySite": {"text": "左眼"}}, "left"),
        ({"modality": {"coding": [{"system": DCM, "code": "OP"}]}}, "unknown"),
        ({"view": {"text": "Fundus, macula centred, left"}}, "left"),
        ({"bodySite": {"coding": [{"system": SNOMED, "code": "40638003"}]}}, "unknown"),
    ],
)
def test_media_fundus_photographs(fhir: Any, extra: dict[str, Any], side: str) -> None:
    (img,) = fhir.facts(_media(**extra)).images
    assert (img.kind, img.laterality, img.url, img.content_type) == (
        ImageSourceKind.MEDIA,
        side,
        "Binary/abc",
        "image/jpeg",
    )
    assert img.date is not None and img.date.isoformat() == "2025-05-02"


def test_media_without_any_sign_of_an_eye_is_skipped_with_a_warning(fhir: Any) -> None:
    facts = fhir.facts(_media(bodySite={"text": "Left foot"}))
    assert facts.images == ()
    assert "Media/me1: image with no sign it shows an eye; ignored" in facts.warnings


@pytest.mark.parametrize(
    ("content", "kept"),
    [
        ({"contentType": "image/png", "data": "iVBORw0KGgo="}, True),
        ({"contentType": "image/jpeg; charset=binary", "data": "/9j/4AAQ"}, True),
        ({"data": "/9j/4AAQ"}, True),  # no contentType, JPEG data
        ({"url": "https://x/fundus.JPG"}, True),
        ({"contentType": "application/pdf", "url": "x.pdf"}, False),
        ({"contentType": "video/mp4", "url": "x.mp4"}, False),
        ({"data": "JVBERi0x"}, False),  # a PDF without contentType
    ],
)
def test_media_content_types(fhir: Any, content: dict[str, Any], kept: bool) -> None:
    media = _media(content=content, bodySite={"coding": [{"system": SNOMED, "code": "8966001"}]})
    assert bool(fhir.facts(media).images) is kept


@pytest.mark.parametrize(
    ("status", "kept"),
    [("completed", True), (None, True), ("entered-in-error", False), ("not-done", False)],
)
def test_media_status(fhir: Any, status: str | None, kept: bool) -> None:
    media = _media(modality={"coding": [{"system": DCM, "code": "OP"}]})
    if status is None:
        del media["status"]
    else:
        media["status"] = status
    assert bool(fhir.facts(media).images) is kept


def _doc(**extra: Any) -> dict[str, Any]:
    r = {
        "resourceType": "DocumentReference",
        "id": "d1",
        "status": "current",
        "type": {"text": "Fundus photograph"},
        "subject": {"reference": "Patient/p1"},
        "date": "2025-05-03T10:00:00+08:00",
        "content": [
            {"attachment": {"contentType": "image/jpeg", "url": "Binary/r", "title": "Right eye"}},
            {"attachment": {"contentType": "image/jpeg", "url": "Binary/l", "title": "Left eye"}},
            {"attachment": {"contentType": "application/pdf", "url": "Binary/report"}},
        ],
    }
    return r | extra


def test_document_reference_image_attachments(fhir: Any) -> None:
    facts = fhir.facts(_doc())
    # Sorted by date, source, then laterality.
    assert [(i.url, i.laterality) for i in facts.images] == [
        ("Binary/l", "left"),
        ("Binary/r", "right"),
    ]
    assert all(i.kind == ImageSourceKind.DOCUMENT_REFERENCE for i in facts.images)


@pytest.mark.parametrize(
    "extra",
    [
        {"type": {"text": "Retinal image"}},
        {"description": "眼底照相"},
        {"type": {"text": "Photo"}, "context": {"practiceSetting": {"text": "Ophthalmology"}}},
        {
            "type": {"text": "Photo"},
            "bodySite": [{"coding": [{"system": SNOMED, "code": "18944008"}]}],
        },
    ],
)
def test_document_reference_eye_evidence(fhir: Any, extra: dict[str, Any]) -> None:
    assert fhir.facts(_doc(**extra)).images != ()


def test_document_reference_without_eye_evidence_is_skipped(fhir: Any) -> None:
    facts = fhir.facts(
        _doc(
            type={"text": "Wound photo"},
            content=[{"attachment": {"contentType": "image/png", "url": "x"}}],
        )
    )
    assert facts.images == ()
    assert any("no sign it shows an eye" in w for w in facts.warnings)


@pytest.mark.parametrize(
    ("status", "kept"), [("current", True), ("superseded", False), ("entered-in-error", False)]
)
def test_document_reference_status(fhir: Any, status: str, kept: bool) -> None:
    assert bool(fhir.facts(_doc(status=status)).images) is kept


def test_document_status_entered_in_error(fhir: Any) -> None:
    assert fhir.facts(_doc(docStatus="entered-in-error")).images == ()


def test_other_patients_images_are_left_out(fhir: Any) -> None:
    media = _media(subject={"reference": "Patient/other"}, bodySite={"text": "left eye"})
    data = fhir.bundle(fhir.patient(), media)
    assert clinical_facts_from_fhir(data, as_of=fhir.AS_OF).images == ()


@pytest.mark.parametrize(
    "broken",
    [
        _study("not a list"),  # type: ignore[arg-type]
        _study([None, 5, {"modality": "OP"}]),  # type: ignore[list-item]
        _study([_series()], identifier="x"),
        _media(content="x"),
        _media(content=[{"contentType": 5}]),
        _doc(content={"attachment": "x"}),
        _doc(content=[{"attachment": {"contentType": ["image/jpeg"]}}]),
    ],
)
def test_malformed_image_resources_never_raise(fhir: Any, broken: dict[str, Any]) -> None:
    fhir.facts(broken)
