"""What the image layer hands to the grader: retrieved images and per-image errors.

A bad image never stops the others: each problem becomes an `ImageFetchError` beside the
images that worked, and what was deliberately not fetched (a non-photograph series, a PDF
attachment) is listed in `skipped` with its reason, so nothing disappears silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from models.clinical_facts import ImageSourceKind
from models.grader.result import Laterality


class FetchErrorCode(StrEnum):
    INVALID_RESOURCE = "invalid-resource"  # the FHIR resource cannot be used
    FHIR_ERROR = "fhir-error"  # reading the resource/Binary/Endpoint failed
    NO_ENDPOINT = "no-endpoint"  # no dicom-wado-rs Endpoint and no configured base
    NO_INSTANCES = "no-instances"  # the study/series lists none and QIDO-RS found none
    NOT_AN_IMAGE = "not-an-image"  # SOP class or content type is not a photograph
    UNAUTHORIZED = "unauthorized"  # 401/403 from the image source
    NOT_FOUND = "not-found"  # 404/410
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"  # connection refused, 5xx, protocol errors
    TOO_LARGE = "too-large"  # bytes or pixels above the configured limits
    CORRUPT = "corrupt"  # undecodable DICOM, frame or image; multipart broken
    UNSUPPORTED = "unsupported"  # transfer syntax / format we cannot decode
    INTEGRITY = "integrity"  # attachment size or hash mismatch
    FORBIDDEN_SOURCE = "forbidden-source"  # an URL we refuse to fetch


class ImageFetchFailed(Exception):
    """Raised inside the image layer; becomes an ImageFetchError. Message safe to show."""

    def __init__(self, code: FetchErrorCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class ImageFetchError:
    image_id: str  # what failed: "ImagingStudy/1/<series uid>/<instance uid>", "Media/5"
    source_ref: str  # the FHIR resource it came from
    source_kind: ImageSourceKind | None  # None: the resource is no image source at all
    code: FetchErrorCode
    reason: str  # short, safe to show: no tokens, no patient data


@dataclass(frozen=True)
class SkippedSource:
    source_ref: str
    item: str  # series UID or content index
    reason: str


@dataclass(frozen=True, eq=False)
class RetrievedImage:
    image_id: str
    source_ref: str
    source_kind: ImageSourceKind
    laterality: Laterality
    laterality_source: str  # where the laterality came from ("none" when unknown)
    acquired: date | None
    rgb: npt.NDArray[np.uint8]  # H x W x 3, C-contiguous
    # sha256 of the image content: the encoded bytes for attachments (what the EHR holds),
    # the decoded RGB pixels for DICOM (stable across transfer syntaxes of lossless data).
    sha256: str
    encoded: bytes | None = None  # the original JPEG/PNG bytes where we have them
    content_type: str | None = None
    notes: tuple[str, ...] = ()  # e.g. "no laterality recorded: eye unknown"
    study_uid: str | None = None
    series_uid: str | None = None
    instance_uid: str | None = None
    sop_class_uid: str | None = None
    transfer_syntax_uid: str | None = None

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])


@dataclass
class ImageFetchResult:
    images: list[RetrievedImage] = field(default_factory=list)
    errors: list[ImageFetchError] = field(default_factory=list)
    skipped: list[SkippedSource] = field(default_factory=list)

    def extend(self, other: ImageFetchResult) -> None:
        self.images.extend(other.images)
        self.errors.extend(other.errors)
        self.skipped.extend(other.skipped)

    def summary(self) -> dict[str, int]:
        return {
            "images": len(self.images),
            "errors": len(self.errors),
            "skipped": len(self.skipped),
        }
