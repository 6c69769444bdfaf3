"""Media (R4) and DocumentReference attachments -> what image bytes to fetch, and checks.

Pure: no HTTP. Sources checked (R4): Media.status (event-status; we use `completed` or
unstated), Media.bodySite (CodeableConcept), Media.created[x], Media.content (Attachment 1..1);
DocumentReference.status current|superseded|entered-in-error, docStatus, date, content[]
.attachment. Attachment: contentType, data (base64Binary), url, size (bytes of the data
before base64), hash (base64 of the SHA-1 of the data), creation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from fhir_mappers.imaging import (
    LateralityResolution,
    LateralitySource,
    parse_fhir_date,
    resolve_laterality,
    side_of_concept,
)
from fhir_mappers.imaging_inputs import (
    CodeableConcept,
    FhirInput,
    ImagingMappingError,
    parse_input,
)
from models.clinical_facts import ImageSourceKind

IMAGE_CONTENT_TYPES: frozenset[str] = frozenset(
    {"image/jpeg", "image/png", "image/tiff", "application/dicom"}
)
"""Content types we decode (the image layer may narrow this by configuration)."""


class Attachment(FhirInput):
    contentType: str | None = None
    data: str | None = None
    url: str | None = None
    size: int | None = None
    hash: str | None = None
    creation: str | None = None


class Period(FhirInput):
    start: str | None = None


class MediaIn(FhirInput):
    resourceType: str
    id: str | None = None
    status: str | None = None
    bodySite: CodeableConcept | None = None
    createdDateTime: str | None = None
    createdPeriod: Period | None = None
    content: Attachment | None = None


class DocContent(FhirInput):
    attachment: Attachment | None = None


class DocContext(FhirInput):
    period: Period | None = None


class DocumentReferenceIn(FhirInput):
    resourceType: str
    id: str | None = None
    status: str | None = None
    docStatus: str | None = None
    date: str | None = None
    context: DocContext | None = None
    content: tuple[DocContent, ...] = ()


@dataclass(frozen=True)
class AttachmentPlan:
    source_ref: str  # "Media/5" or "DocumentReference/7"
    kind: ImageSourceKind
    index: int  # position in DocumentReference.content (0 for Media)
    content_type: str | None  # lower-case media type without parameters
    data_b64: str | None
    url: str | None
    size: int | None
    sha1_b64: str | None
    laterality: LateralityResolution
    acquired: date | None

    @property
    def image_id(self) -> str:
        return (
            self.source_ref
            if self.kind is ImageSourceKind.MEDIA
            else f"{self.source_ref}#{self.index}"
        )


@dataclass(frozen=True)
class SkippedAttachment:
    source_ref: str
    index: int
    reason: str


def base_content_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def _maybe_image(content_type: str | None) -> bool:
    """Worth fetching: an image/* type, DICOM, or unstated (we sniff the bytes then)."""
    return (
        content_type is None
        or content_type.startswith("image/")
        or content_type == "application/dicom"
    )


def _plan(
    ref: str,
    kind: ImageSourceKind,
    index: int,
    att: Attachment,
    laterality: LateralityResolution,
    acquired: date | None,
) -> AttachmentPlan | SkippedAttachment:
    ct = base_content_type(att.contentType)
    if not _maybe_image(ct):
        return SkippedAttachment(ref, index, f"content type {ct} is not an image")
    if not att.data and not att.url:
        return SkippedAttachment(ref, index, "attachment has neither data nor url")
    return AttachmentPlan(
        source_ref=ref,
        kind=kind,
        index=index,
        content_type=ct,
        data_b64=att.data,
        url=att.url.strip() if att.url else None,
        size=att.size,
        sha1_b64=att.hash,
        laterality=laterality,
        acquired=acquired or parse_fhir_date(att.creation),
    )


def _hint_laterality(hint: str | None) -> LateralityResolution:
    side = hint if hint in ("left", "right") else None
    res = resolve_laterality([(LateralitySource.HINT, side)])
    return res


def plan_media(
    resource: Mapping[str, Any], laterality_hint: str | None = None
) -> tuple[list[AttachmentPlan], list[SkippedAttachment]]:
    media: MediaIn = parse_input(MediaIn, resource, "Media")
    if media.resourceType != "Media":
        raise ImagingMappingError(f"expected a Media, got {media.resourceType}")
    ref = f"Media/{media.id}" if media.id else "Media"
    if media.status not in (None, "completed", "unknown"):
        return [], [SkippedAttachment(ref, 0, f"status is {media.status}")]
    if media.content is None:
        raise ImagingMappingError(f"{ref}: no content attachment")
    laterality = resolve_laterality(
        [
            (LateralitySource.RESOURCE_BODY_SITE, side_of_concept(media.bodySite)),
            (
                LateralitySource.HINT,
                laterality_hint if laterality_hint in ("left", "right") else None,
            ),
        ]
    )
    acquired = parse_fhir_date(media.createdDateTime) or parse_fhir_date(
        media.createdPeriod.start if media.createdPeriod else None
    )
    item = _plan(ref, ImageSourceKind.MEDIA, 0, media.content, laterality, acquired)
    return ([item], []) if isinstance(item, AttachmentPlan) else ([], [item])


def plan_document_reference(
    resource: Mapping[str, Any], laterality_hint: str | None = None
) -> tuple[list[AttachmentPlan], list[SkippedAttachment]]:
    """DocumentReference has no body site in R4: its eye comes from the hint (what the
    inbound mapper or the EHR said) or is unknown, and the note says so."""
    doc: DocumentReferenceIn = parse_input(DocumentReferenceIn, resource, "DocumentReference")
    if doc.resourceType != "DocumentReference":
        raise ImagingMappingError(f"expected a DocumentReference, got {doc.resourceType}")
    ref = f"DocumentReference/{doc.id}" if doc.id else "DocumentReference"
    if doc.status not in (None, "current") or doc.docStatus == "entered-in-error":
        return [], [SkippedAttachment(ref, 0, f"status is {doc.docStatus or doc.status}")]
    if not doc.content:
        raise ImagingMappingError(f"{ref}: no content")
    laterality = _hint_laterality(laterality_hint)
    acquired = parse_fhir_date(
        doc.context.period.start if doc.context and doc.context.period else None
    )
    acquired = acquired or parse_fhir_date(doc.date)
    plans: list[AttachmentPlan] = []
    skipped: list[SkippedAttachment] = []
    for i, content in enumerate(doc.content):
        if content.attachment is None:
            skipped.append(SkippedAttachment(ref, i, "content has no attachment"))
            continue
        item = _plan(
            ref, ImageSourceKind.DOCUMENT_REFERENCE, i, content.attachment, laterality, acquired
        )
        (plans if isinstance(item, AttachmentPlan) else skipped).append(item)  # type: ignore[arg-type]
    return plans, skipped


# --- Where the bytes are ------------------------------------------------------------------
class LocationKind(StrEnum):
    BINARY = "binary"  # a Binary on the FHIR server: read through the FHIR gateway
    ABSOLUTE = "absolute"  # another origin: fetched with that origin's configured auth only


@dataclass(frozen=True)
class AttachmentLocation:
    kind: LocationKind
    binary_id: str | None = None
    url: str | None = None


def locate_attachment(url: str, fhir_base_url: str | None) -> AttachmentLocation:
    """`Binary/5` or `{fhir base}/Binary/5` -> the Binary id; other http(s) URLs -> absolute.

    Anything else (another relative resource, a contained `#ref`, urn:, file:) is refused."""
    u = url.strip()
    if fhir_base_url:
        base = fhir_base_url.rstrip("/") + "/"
        if u.startswith(base):
            u = u[len(base) :]
    parts = urlsplit(u)
    if not parts.scheme:
        segs = [s for s in parts.path.split("/") if s]
        if len(segs) == 2 and segs[0] == "Binary" and segs[1]:
            return AttachmentLocation(LocationKind.BINARY, binary_id=segs[1])
        raise ImagingMappingError("attachment url is relative but not a Binary reference")
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ImagingMappingError(f"attachment url scheme {parts.scheme} is not supported")
    return AttachmentLocation(LocationKind.ABSOLUTE, url=u)


def decode_inline_data(data_b64: str) -> bytes:
    try:
        return base64.b64decode("".join(data_b64.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ImagingMappingError("attachment data is not valid base64") from None


def check_integrity(data: bytes, size: int | None, sha1_b64: str | None) -> None:
    """Attachment.size and .hash, where the EHR gave them, must match what we received."""
    if size is not None and size != len(data):
        raise ImagingMappingError(f"attachment size is {len(data)} bytes, expected {size}")
    if sha1_b64:
        try:
            expected = base64.b64decode(sha1_b64.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ImagingMappingError("attachment hash is not valid base64") from None
        if hashlib.sha1(data).digest() != expected:
            raise ImagingMappingError("attachment SHA-1 hash does not match the data")


def sha1_b64(data: bytes) -> str:
    """Attachment.hash as R4 defines it: base64 of the SHA-1 of the data."""
    return base64.b64encode(hashlib.sha1(data).digest()).decode("ascii")
