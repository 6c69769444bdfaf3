"""Media and DocumentReference attachments against the real FHIR server: inline data,
Binary (read through the FHIR client), an absolute URL on another origin with its own
credentials; and every bad case as a per-image error."""

from __future__ import annotations

import base64
import hashlib
import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from fhir_mappers.imaging_attachments import sha1_b64
from models.clinical_facts import ImageSourceKind
from models.grader.result import Laterality
from plugin.imaging.config import BearerAuth, ImagingSettings, OriginCredentials
from plugin.imaging.fetcher import ImageFetcher
from plugin.imaging.results import ImageFetchResult
from plugin.local_servers.dicom_testdata import make_op_instance
from plugin.local_servers.dicom_testdata_fhir import media_resource

pytestmark = pytest.mark.integration

FHIR_TOKEN = "the-fhir-access-token"


def jpeg(seed: int, size: tuple[int, int] = (56, 40)) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def png(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (30, 20, 4), dtype=np.uint8), "RGBA").save(buf, "PNG")
    return buf.getvalue()


def rgb_of(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def binary(fhir_client: Any, data: bytes, content_type: str) -> str:
    created = fhir_client.create(
        {"resourceType": "Binary", "contentType": content_type, "data": b64(data)}
    )
    return f"Binary/{created['id']}"


def attachment(
    data: bytes | None = None, content_type: str | None = "image/jpeg", **extra: Any
) -> dict[str, Any]:
    att: dict[str, Any] = dict(extra)
    if content_type:
        att["contentType"] = content_type
    if data is not None:
        att["data"] = b64(data)
    return att


def docref(patient: str, *attachments: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": {"reference": patient},
        "date": "2024-03-01T10:00:00Z",
        "content": [{"attachment": a} for a in attachments],
    }


@pytest.fixture
def patient(fhir_client: Any) -> str:
    return f"Patient/{fhir_client.create({'resourceType': 'Patient'})['id']}"


def fetch(
    fhir_client: Any, fhir_base_url: str, patient: str, settings: ImagingSettings | None = None
) -> ImageFetchResult:
    with ImageFetcher(
        fhir_client.gateway,
        settings or ImagingSettings(),
        fhir_base_url=fhir_base_url,
        fhir_token=lambda: FHIR_TOKEN,
    ) as fetcher:
        return fetcher.fetch_for_patient(patient)


def test_all_attachment_sources(
    patient: str, fhir_client: Any, fhir_base_url: str, image_origin: Any
) -> None:
    inline, via_binary, absolute, as_png, as_dicom = jpeg(1), jpeg(2), jpeg(3), png(4), jpeg(5)
    dicom = make_op_instance(
        as_dicom,
        patient_id="p",
        patient_name="P^Q",
        study_uid="1.2.3",
        series_uid="1.2.3.4",
        instance_uid="1.2.3.4.5",
        laterality="L",
    )
    media_inline = fhir_client.create(media_resource(patient, inline, "R"))
    media_binary = fhir_client.create(
        media_resource(patient, via_binary, "L", url=binary(fhir_client, via_binary, "image/jpeg"))
    )
    url = image_origin.add("/images/fundus-3.jpg", absolute)
    doc = fhir_client.create(
        docref(
            patient,
            attachment(as_png, "image/png", size=len(as_png), hash=sha1_b64(as_png)),
            attachment(
                content_type="application/dicom",
                url=f"{fhir_base_url}/{binary(fhir_client, dicom, 'application/dicom')}",
            ),
            attachment(url=url),
            attachment(b"%PDF-1.4", "application/pdf"),
        )
    )
    settings = ImagingSettings(
        credentials=(
            OriginCredentials(
                base_url=image_origin.base_url, auth=BearerAuth(token=image_origin.token)
            ),
        )
    )
    result = fetch(fhir_client, fhir_base_url, patient, settings)
    assert result.errors == []
    assert [(s.source_ref, s.item, s.reason) for s in result.skipped] == [
        (f"DocumentReference/{doc['id']}", "3", "content type application/pdf is not an image")
    ]
    images = {i.image_id: i for i in result.images}
    expected = {
        f"Media/{media_inline['id']}": (inline, Laterality.RIGHT, ImageSourceKind.MEDIA),
        f"Media/{media_binary['id']}": (via_binary, Laterality.LEFT, ImageSourceKind.MEDIA),
        f"DocumentReference/{doc['id']}#0": (
            as_png,
            Laterality.UNKNOWN,
            ImageSourceKind.DOCUMENT_REFERENCE,
        ),
        f"DocumentReference/{doc['id']}#2": (
            absolute,
            Laterality.UNKNOWN,
            ImageSourceKind.DOCUMENT_REFERENCE,
        ),
    }
    for image_id, (data, laterality, kind) in expected.items():
        img = images[image_id]
        assert img.sha256 == hashlib.sha256(data).hexdigest()
        assert img.encoded == data
        np.testing.assert_array_equal(img.rgb, rgb_of(data))
        assert (img.laterality, img.source_kind) == (laterality, kind)
    assert images[f"DocumentReference/{doc['id']}#0"].notes == (
        "no laterality recorded: eye unknown",
    )
    assert images[f"Media/{media_inline['id']}"].acquired.isoformat() == "2024-01-15"  # type: ignore[union-attr]
    # the DICOM attachment: decoded, laterality from its ImageLaterality
    dicom_img = images[f"DocumentReference/{doc['id']}#1"]
    assert dicom_img.content_type == "application/dicom"
    assert dicom_img.laterality is Laterality.LEFT
    np.testing.assert_array_equal(dicom_img.rgb, rgb_of(as_dicom))
    assert len(images) == 5
    # the other origin got its own token, never the FHIR token
    assert image_origin.seen_authorization[-1] == f"Bearer {image_origin.token}"
    assert all(FHIR_TOKEN not in (a or "") for a in image_origin.seen_authorization)


def test_other_origin_without_credentials_gets_no_fhir_token_and_fails_cleanly(
    patient: str, fhir_client: Any, fhir_base_url: str, image_origin: Any
) -> None:
    before = len(image_origin.seen_authorization)
    url = image_origin.add("/images/secret.jpg", jpeg(9))
    fhir_client.create(media_resource(patient, jpeg(9), "R", url=url))
    result = fetch(fhir_client, fhir_base_url, patient)
    assert result.images == []
    assert [(e.code.value, e.reason) for e in result.errors] == [
        ("unauthorized", "image source answered HTTP 401 (not authorized)")
    ]
    assert image_origin.seen_authorization[before:] == [None]


def test_bad_attachments_are_per_image_errors(
    patient: str, fhir_client: Any, fhir_base_url: str, image_origin: Any
) -> None:
    good = jpeg(20)
    huge_png_header = _png_header(20000, 20000)
    cases = {
        "gif": attachment(b"GIF89a....", "image/gif"),
        "hash": attachment(good, hash=sha1_b64(good + b"x")),
        "size": attachment(good, size=len(good) + 1),
        "corrupt": attachment(good[:150]),
        "bomb": attachment(huge_png_header, "image/png"),
        "missing-binary": attachment(content_type="image/jpeg", url="Binary/nope"),
        "not-binary": attachment(content_type="image/jpeg", url="Patient/1"),
        "bad-base64": {"contentType": "image/jpeg", "data": "%%%notbase64%%%"},
        "lying-type": attachment(b"just some text, not an image", "image/jpeg"),
        "good": attachment(good),
    }
    doc = fhir_client.create(docref(patient, *cases.values()))
    result = fetch(fhir_client, fhir_base_url, patient)
    by_index = {int(e.image_id.rsplit("#", 1)[1]): e for e in result.errors}
    got = {name: by_index[i].code.value for i, name in enumerate(cases) if i in by_index}
    assert got == {
        "gif": "not-an-image",
        "hash": "integrity",
        "size": "integrity",
        "corrupt": "corrupt",
        "bomb": "too-large",
        "missing-binary": "not-found",
        "not-binary": "forbidden-source",
        "bad-base64": "corrupt",
        "lying-type": "corrupt",
    }
    assert [i.image_id for i in result.images] == [
        f"DocumentReference/{doc['id']}#{len(cases) - 1}"
    ]
    assert all(e.source_ref == f"DocumentReference/{doc['id']}" for e in result.errors)


def test_binary_as_raw_bytes_from_the_gateway(
    patient: str, fhir_client: Any, fhir_base_url: str
) -> None:
    """A gateway that returns Binary as raw bytes (Accept: */*) works the same way."""
    data = jpeg(30)
    ref = binary(fhir_client, data, "image/jpeg")

    class RawBinaryGateway:
        def read(self, resource_type: str, resource_id: str) -> Any:
            found = fhir_client.read(resource_type, resource_id)
            return base64.b64decode(found["data"]) if resource_type == "Binary" else found

        def search(self, resource_type: str, params: Any) -> Any:
            return fhir_client.search(resource_type, params)

    media = fhir_client.create(media_resource(patient, data, None, url=ref))
    with ImageFetcher(RawBinaryGateway(), fhir_base_url=fhir_base_url) as fetcher:
        result = fetcher.fetch_resource(media)
    assert result.errors == [] and result.images[0].encoded == data


def _png_header(width: int, height: int) -> bytes:
    import struct
    import zlib

    out = b"\x89PNG\r\n\x1a\n"
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    for name, payload in ((b"IHDR", ihdr), (b"IDAT", zlib.compress(bytes(64))), (b"IEND", b"")):
        out += (
            struct.pack(">I", len(payload))
            + name
            + payload
            + struct.pack(">I", zlib.crc32(name + payload))
        )
    return out
