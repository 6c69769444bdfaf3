"""Media / DocumentReference attachment planning, URL location and integrity (pure)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from fhir_mappers.imaging import ImagingMappingError, LateralitySource
from fhir_mappers.imaging_attachments import (
    LocationKind,
    base_content_type,
    check_integrity,
    decode_inline_data,
    locate_attachment,
    plan_document_reference,
    plan_media,
    sha1_b64,
)
from models.clinical_facts import ImageSourceKind
from models.grader.result import Laterality

SCT = "http://snomed.info/sct"
FHIR = "http://127.0.0.1:8080/fhir/R4"


def media(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Media",
        "id": "m1",
        "status": "completed",
        "content": {"contentType": "image/jpeg", "data": "AAAA"},
        **extra,
    }


def docref(*contents: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "id": "d1",
        "status": "current",
        "content": [{"attachment": a} for a in contents],
        **extra,
    }


def test_media_plan_carries_attachment_laterality_and_date() -> None:
    plans, skipped = plan_media(
        media(
            bodySite={"coding": [{"system": SCT, "code": "18944008"}]},
            createdDateTime="2024-03-04T10:00:00Z",
            content={
                "contentType": "image/jpeg; charset=binary",
                "url": "Binary/7",
                "size": 10,
                "hash": "abc=",
            },
        )
    )
    assert skipped == []
    (p,) = plans
    assert p.image_id == "Media/m1" and p.kind is ImageSourceKind.MEDIA
    assert p.content_type == "image/jpeg" and p.url == "Binary/7"
    assert (p.size, p.sha1_b64) == (10, "abc=")
    assert p.laterality.laterality is Laterality.RIGHT
    assert p.laterality.source is LateralitySource.RESOURCE_BODY_SITE
    assert p.acquired is not None and p.acquired.isoformat() == "2024-03-04"


def test_media_without_body_site_uses_the_hint_else_unknown() -> None:
    (p,), _ = plan_media(media(), laterality_hint="left")
    assert p.laterality.laterality is Laterality.LEFT
    assert p.laterality.source is LateralitySource.HINT
    (p,), _ = plan_media(media())
    assert p.laterality.laterality is Laterality.UNKNOWN
    assert p.laterality.note == "no laterality recorded: eye unknown"


@pytest.mark.parametrize("status", ["entered-in-error", "not-done", "stopped"])
def test_media_that_is_not_completed_is_skipped_with_reason(status: str) -> None:
    plans, skipped = plan_media(media(status=status))
    assert plans == [] and skipped[0].reason == f"status is {status}"


def test_media_with_non_image_content_is_skipped_not_dropped() -> None:
    plans, skipped = plan_media(media(content={"contentType": "application/pdf", "data": "AA=="}))
    assert plans == [] and "not an image" in skipped[0].reason


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ({**media(), "content": None}, "no content attachment"),
        ({**media(), "resourceType": "Observation"}, "expected a Media"),
        ({**media(), "content": "x"}, "malformed at content"),
    ],
)
def test_unusable_media_raise(resource: dict[str, Any], message: str) -> None:
    with pytest.raises(ImagingMappingError, match=message):
        plan_media(resource)


def test_document_reference_plans_each_image_content_and_skips_the_rest() -> None:
    plans, skipped = plan_document_reference(
        docref(
            {"contentType": "image/png", "data": "AAAA"},
            {"contentType": "application/pdf", "url": "Binary/pdf"},
            {"url": "https://images.example.org/x"},  # no contentType: sniffed later
            {"contentType": "image/jpeg"},  # neither data nor url
            date="2024-05-06T07:08:09Z",
        )
    )
    assert [p.image_id for p in plans] == ["DocumentReference/d1#0", "DocumentReference/d1#2"]
    assert all(p.kind is ImageSourceKind.DOCUMENT_REFERENCE for p in plans)
    assert plans[0].acquired is not None and plans[0].acquired.isoformat() == "2024-05-06"
    assert {s.index: s.reason for s in skipped} == {
        1: "content type application/pdf is not an image",
        3: "attachment has neither data nor url",
    }
    assert plans[0].laterality.laterality is Laterality.UNKNOWN


@pytest.mark.parametrize(
    "extra",
    [{"status": "superseded"}, {"status": "entered-in-error"}, {"docStatus": "entered-in-error"}],
)
def test_document_reference_not_current_is_skipped(extra: dict[str, Any]) -> None:
    plans, skipped = plan_document_reference(
        docref({"contentType": "image/png", "data": "A"}, **extra)
    )
    assert plans == [] and skipped[0].reason.startswith("status is")


def test_document_reference_without_content_raises() -> None:
    with pytest.raises(ImagingMappingError, match="no content"):
        plan_document_reference(docref())


# --- Location -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "binary_id"),
    [("Binary/42", "42"), (f"{FHIR}/Binary/42", "42"), ("/Binary/abc", "abc")],
)
def test_binary_references_are_read_through_the_fhir_gateway(url: str, binary_id: str) -> None:
    loc = locate_attachment(url, FHIR)
    assert loc.kind is LocationKind.BINARY and loc.binary_id == binary_id


def test_other_origins_are_absolute() -> None:
    loc = locate_attachment("https://images.example.org/a.jpg", FHIR)
    assert loc.kind is LocationKind.ABSOLUTE and loc.url == "https://images.example.org/a.jpg"


@pytest.mark.parametrize(
    "url", ["Patient/1", "#contained", "file:///etc/passwd", "urn:uuid:1234", "Binary/"]
)
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(ImagingMappingError):
        locate_attachment(url, FHIR)


# --- Data and integrity -------------------------------------------------------------------
def test_inline_data_decodes_and_rejects_garbage() -> None:
    assert decode_inline_data(base64.b64encode(b"hello").decode() + "\n") == b"hello"
    with pytest.raises(ImagingMappingError, match="not valid base64"):
        decode_inline_data("@@@not base64@@@")


def test_integrity_checks_size_and_sha1() -> None:
    data = b"fundus bytes"
    digest = base64.b64encode(hashlib.sha1(data).digest()).decode()
    assert sha1_b64(data) == digest
    check_integrity(data, len(data), digest)
    check_integrity(data, None, None)
    with pytest.raises(ImagingMappingError, match="size"):
        check_integrity(data, len(data) + 1, None)
    with pytest.raises(ImagingMappingError, match="SHA-1"):
        check_integrity(data + b"!", None, digest)
    with pytest.raises(ImagingMappingError, match="hash is not valid base64"):
        check_integrity(data, None, "***")


def test_base_content_type() -> None:
    assert base_content_type("Image/JPEG; q=1") == "image/jpeg"
    assert base_content_type(None) is None and base_content_type("") is None
