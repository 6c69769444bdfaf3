"""The fetcher's dispatch and bookkeeping over the in-memory FHIR gateway (unit tests; no
image server is reached: every case here fails or is skipped before any image request)."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from models.clinical_facts import ImageRef, ImageSourceKind
from plugin.fhir.errors import FhirUnavailable
from plugin.fhir.gateway import SearchResult
from plugin.fhir.memory import InMemoryFhirGateway
from plugin.imaging.fetcher import ImageFetcher
from plugin.imaging.results import FetchErrorCode


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def gateway() -> InMemoryFhirGateway:
    return InMemoryFhirGateway()


def media(gateway: InMemoryFhirGateway, patient: str, **content: Any) -> str:
    created = gateway.create(
        {
            "resourceType": "Media",
            "status": "completed",
            "subject": {"reference": patient},
            "content": content
            or {"contentType": "image/jpeg", "data": base64.b64encode(jpeg()).decode()},
        }
    )
    return created.reference


def test_patient_fetch_over_the_gateway(gateway: InMemoryFhirGateway) -> None:
    ref = media(gateway, "Patient/1")
    media(gateway, "Patient/2")
    gateway.create(
        {
            "resourceType": "ImagingStudy",
            "status": "registered",
            "subject": {"reference": "Patient/1"},
        }
    )
    with ImageFetcher(gateway) as fetcher:
        result = fetcher.fetch_for_patient("Patient/1")
    assert [i.image_id for i in result.images] == [ref]
    assert [(e.code, e.source_kind) for e in result.errors] == [
        (FetchErrorCode.INVALID_RESOURCE, ImageSourceKind.IMAGING_STUDY)
    ]


def test_patient_ref_must_be_a_reference() -> None:
    with ImageFetcher(InMemoryFhirGateway()) as fetcher, pytest.raises(ValueError):
        fetcher.fetch_for_patient("1")


def test_not_an_image_resource(gateway: InMemoryFhirGateway) -> None:
    with ImageFetcher(gateway) as fetcher:
        result = fetcher.fetch_resource({"resourceType": "Observation", "id": "o"})
    (err,) = result.errors
    assert (err.code, err.source_kind) == (FetchErrorCode.INVALID_RESOURCE, None)


class FailingSearch(InMemoryFhirGateway):
    def search(self, resource_type: str, params: Any = (), *, max_pages: int = 10) -> SearchResult:
        if resource_type == "DocumentReference":
            raise FhirUnavailable("FHIR search failed", 503)
        found = super().search(resource_type, params, max_pages=max_pages)
        if resource_type == "Media":  # pretend there was another page we did not read
            return SearchResult(found.resources, truncated=True)
        return found


def test_search_failures_and_truncation_are_reported_not_swallowed() -> None:
    gateway = FailingSearch()
    media(gateway, "Patient/1")
    with ImageFetcher(gateway) as fetcher:
        result = fetcher.fetch_for_patient("Patient/1")
    assert len(result.images) == 1
    reasons = {e.source_kind: (e.code, e.reason) for e in result.errors}
    assert reasons[ImageSourceKind.DOCUMENT_REFERENCE] == (
        FetchErrorCode.FHIR_ERROR,
        "could not read DocumentReference search from the FHIR server (HTTP 503)",
    )
    assert reasons[ImageSourceKind.MEDIA][0] is FetchErrorCode.TOO_LARGE


def test_image_refs_are_read_once_per_source_and_bad_refs_reported(
    gateway: InMemoryFhirGateway,
) -> None:
    ref = media(gateway, "Patient/1")
    refs = [
        ImageRef(source=ref, kind=ImageSourceKind.MEDIA, laterality="right"),
        ImageRef(source=ref, kind=ImageSourceKind.MEDIA, laterality="right"),
        ImageRef(source="Media/missing", kind=ImageSourceKind.MEDIA),
        ImageRef(source="Observation/1", kind=ImageSourceKind.MEDIA),
    ]
    gateway.requests.clear()
    with ImageFetcher(gateway) as fetcher:
        result = fetcher.fetch_refs(refs)
    (img,) = result.images
    assert img.laterality.value == "right" and img.laterality_source == "image reference"
    assert sorted((e.image_id, e.code.value) for e in result.errors) == [
        ("Media/missing", "not-found"),
        ("Observation/1", "invalid-resource"),
    ]
    # Media read twice: once for the two refs of the same source, once for Media/missing
    assert gateway.requests.count("read Media") == 2
