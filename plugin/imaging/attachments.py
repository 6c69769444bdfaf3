"""Media and DocumentReference attachments -> RGB images.

Bytes come from inline `data` (base64), a Binary on the FHIR server (read through the FHIR
gateway: FHIR JSON with `data`, or raw bytes), or an absolute URL on another origin (fetched
with that origin's configured credentials only; the FHIR token never leaves its origin
unless configured so). Size and SHA-1 are checked where the attachment states them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from fhir_mappers.imaging import (
    ImagingMappingError,
    LateralityResolution,
    LateralitySource,
    resolve_laterality,
    side_of_dicom,
)
from fhir_mappers.imaging_attachments import (
    AttachmentPlan,
    LocationKind,
    base_content_type,
    check_integrity,
    decode_inline_data,
    locate_attachment,
    plan_document_reference,
    plan_media,
)
from models.clinical_facts import ImageSourceKind
from plugin.imaging.config import ImagingSettings
from plugin.imaging.decode import (
    PIL_FORMATS,
    RGB,
    decode_dataset,
    decode_image,
    header_from_dataset,
    read_dicom,
)
from plugin.imaging.fhir_source import FhirReader, binary_payload, fhir_call
from plugin.imaging.http import ImageHttp
from plugin.imaging.results import (
    FetchErrorCode,
    ImageFetchError,
    ImageFetchFailed,
    ImageFetchResult,
    RetrievedImage,
    SkippedSource,
)

DICOM_MAGIC_OFFSET = 128


def sniff_content_type(data: bytes) -> str | None:
    if data[DICOM_MAGIC_OFFSET : DICOM_MAGIC_OFFSET + 4] == b"DICM":
        return "application/dicom"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    return None


class AttachmentRetriever:
    def __init__(
        self,
        fhir: FhirReader,
        http: ImageHttp,
        settings: ImagingSettings,
        fhir_base_url: str | None = None,
    ) -> None:
        self._fhir = fhir
        self._http = http
        self._settings = settings
        self._fhir_base = fhir_base_url

    def retrieve(
        self, resource: Mapping[str, Any], laterality_hint: str | None = None
    ) -> ImageFetchResult:
        result = ImageFetchResult()
        rtype = resource.get("resourceType")
        ref = f"{rtype}/{resource.get('id')}" if resource.get("id") else str(rtype)
        kind = ImageSourceKind.MEDIA if rtype == "Media" else ImageSourceKind.DOCUMENT_REFERENCE
        try:
            if rtype == "Media":
                plans, skipped = plan_media(resource, laterality_hint)
            else:
                plans, skipped = plan_document_reference(resource, laterality_hint)
        except ImagingMappingError as exc:
            result.errors.append(
                ImageFetchError(ref, ref, kind, FetchErrorCode.INVALID_RESOURCE, str(exc))
            )
            return result
        for s in skipped:
            result.skipped.append(SkippedSource(s.source_ref, str(s.index), s.reason))
        for plan in plans:
            try:
                result.images.append(self._retrieve(plan))
            except ImageFetchFailed as exc:
                result.errors.append(
                    ImageFetchError(plan.image_id, plan.source_ref, plan.kind, exc.code, exc.reason)
                )
            except ImagingMappingError as exc:
                result.errors.append(
                    ImageFetchError(
                        plan.image_id,
                        plan.source_ref,
                        plan.kind,
                        FetchErrorCode.INTEGRITY,
                        str(exc),
                    )
                )
        return result

    def _bytes(self, plan: AttachmentPlan) -> tuple[bytes, str | None]:
        """The attachment's bytes and the content type their source declared."""
        cap = self._settings.limits.max_download_bytes
        if plan.data_b64:
            if len(plan.data_b64) * 3 // 4 > cap:
                raise ImageFetchFailed(FetchErrorCode.TOO_LARGE, f"inline data exceeds {cap} bytes")
            try:
                return decode_inline_data(plan.data_b64), None
            except ImagingMappingError as exc:
                raise ImageFetchFailed(FetchErrorCode.CORRUPT, str(exc)) from None
        assert plan.url is not None
        try:
            loc = locate_attachment(plan.url, self._fhir_base)
        except ImagingMappingError as exc:
            raise ImageFetchFailed(FetchErrorCode.FORBIDDEN_SOURCE, str(exc)) from None
        if loc.kind is LocationKind.BINARY:
            assert loc.binary_id is not None
            binary_id = loc.binary_id
            raw = fhir_call(f"Binary/{binary_id}", lambda: self._fhir.read("Binary", binary_id))
            data, ct = binary_payload(raw)
            if len(data) > cap:
                raise ImageFetchFailed(FetchErrorCode.TOO_LARGE, f"Binary exceeds {cap} bytes")
            return data, ct
        assert loc.url is not None
        accept = plan.content_type or "image/jpeg, image/png, image/tiff, application/dicom"
        fetched = self._http.get(loc.url, accept, max_bytes=cap)
        return fetched.body, fetched.content_type

    def _retrieve(self, plan: AttachmentPlan) -> RetrievedImage:
        data, source_ct = self._bytes(plan)
        check_integrity(data, plan.size, plan.sha1_b64)
        declared = plan.content_type or base_content_type(source_ct)
        allowed = self._settings.allowed_content_types
        if declared and declared not in allowed and declared != "application/octet-stream":
            raise ImageFetchFailed(
                FetchErrorCode.NOT_AN_IMAGE, f"content type {declared} is not accepted"
            )
        actual = sniff_content_type(data)
        notes: list[str] = []
        laterality = plan.laterality
        if actual == "application/dicom" and actual in allowed:
            rgb, laterality, acquired = self._decode_dicom(data, plan)
            encoded: bytes | None = None
        else:
            rgb, fmt = decode_image(data, self._settings.limits)
            actual = PIL_FORMATS.get(fmt)
            if actual is None or actual not in allowed:
                raise ImageFetchFailed(
                    FetchErrorCode.NOT_AN_IMAGE, f"image format {fmt or 'unknown'} is not accepted"
                )
            encoded, acquired = data, plan.acquired
        if declared and declared != actual and declared != "application/octet-stream":
            notes.append(f"declared {declared} but the content is {actual}")
        if laterality.note:
            notes.append(laterality.note)
        return RetrievedImage(
            image_id=plan.image_id,
            source_ref=plan.source_ref,
            source_kind=plan.kind,
            laterality=laterality.laterality,
            laterality_source=laterality.source.value,
            acquired=acquired,
            rgb=rgb,
            sha256=hashlib.sha256(data).hexdigest(),
            encoded=encoded,
            content_type=actual,
            notes=tuple(notes),
        )

    def _decode_dicom(
        self, data: bytes, plan: AttachmentPlan
    ) -> tuple[RGB, LateralityResolution, Any]:
        ds = read_dicom(data)
        header = header_from_dataset(ds)
        rgb = decode_dataset(ds, header, self._settings.limits)
        lat = plan.laterality
        if lat.source is LateralitySource.NONE and not lat.conflicting:
            lat = resolve_laterality(
                [
                    (
                        LateralitySource.DICOM_IMAGE_LATERALITY,
                        side_of_dicom(header.image_laterality),
                    ),
                    (LateralitySource.DICOM_LATERALITY, side_of_dicom(header.laterality)),
                ]
            )
        return rgb, lat, header.acquired or plan.acquired
