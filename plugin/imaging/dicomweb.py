"""A DICOMweb client (PS3.18): WADO-RS retrieve of instances, metadata and frames with
explicit transfer syntaxes, and QIDO-RS search of a study's or series' instances.

Media types follow PS3.18 Table 8.7.3-5: uncompressed bulk data is application/octet-stream
(transfer syntax 1.2.840.10008.1.2.1), JPEG baseline frames image/jpeg (…4.50), JPEG 2000
frames image/jp2 (…4.90 lossless, …4.91). `transfer-syntax=*` asks for the stored form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from plugin.imaging.http import ImageHttp
from plugin.imaging.multipart import MediaType, MultipartError, Part, parse_multipart_related
from plugin.imaging.results import FetchErrorCode, ImageFetchFailed

TS_IMPLICIT_LE = "1.2.840.10008.1.2"
TS_EXPLICIT_LE = "1.2.840.10008.1.2.1"
TS_DEFLATED_LE = "1.2.840.10008.1.2.1.99"
TS_JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
TS_JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"
TS_JPEG2000_LOSSLESS = "1.2.840.10008.1.2.4.90"
TS_JPEG2000 = "1.2.840.10008.1.2.4.91"
TS_RLE_LOSSLESS = "1.2.840.10008.1.2.5"
TS_ANY = "*"

FRAME_MEDIA_TYPE: dict[str, str] = {
    TS_EXPLICIT_LE: "application/octet-stream",
    TS_JPEG_BASELINE: "image/jpeg",
    TS_JPEG_EXTENDED: "image/jpeg",
    TS_JPEG2000_LOSSLESS: "image/jp2",
    TS_JPEG2000: "image/jp2",
}

# Attributes QIDO-RS should return for each instance beyond the defaults.
QIDO_INCLUDE = (
    "0020000E",  # SeriesInstanceUID
    "00080016",  # SOPClassUID
    "00080018",  # SOPInstanceUID
    "00080060",  # Modality
    "00200013",  # InstanceNumber
    "00200060",  # Laterality
    "00200062",  # ImageLaterality
)

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def check_uid(uid: str, what: str) -> str:
    """A DICOM UID (digits and dots, <= 64 chars); anything else never reaches a URL."""
    if not isinstance(uid, str) or len(uid) > 64 or not _UID.match(uid):
        raise ImageFetchFailed(FetchErrorCode.INVALID_RESOURCE, f"{what} is not a valid DICOM UID")
    return uid


def dicom_accept(transfer_syntax: str) -> str:
    return f'multipart/related; type="application/dicom"; transfer-syntax={transfer_syntax}'


def frame_accept(transfer_syntax: str) -> str:
    media = FRAME_MEDIA_TYPE.get(transfer_syntax, "application/octet-stream")
    return f'multipart/related; type="{media}"; transfer-syntax={transfer_syntax}'


@dataclass(frozen=True)
class FramePart:
    media_type: str  # "application/octet-stream", "image/jpeg", "image/jp2"
    transfer_syntax: str | None  # from the part's or the response's Content-Type
    data: bytes


def json_value(item: dict[str, Any], tag: str) -> Any:
    """First value of a DICOM JSON attribute (PS3.18 F.2), or None."""
    attr = item.get(tag)
    if not isinstance(attr, dict):
        return None
    values = attr.get("Value")
    if not isinstance(values, list) or not values:
        return None
    return values[0]


class DicomWebClient:
    def __init__(self, http: ImageHttp, base_url: str) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")

    def _instance_url(self, study: str, series: str, instance: str) -> str:
        return (
            f"{self.base_url}/studies/{check_uid(study, 'study UID')}"
            f"/series/{check_uid(series, 'series UID')}"
            f"/instances/{check_uid(instance, 'instance UID')}"
        )

    def _multipart(
        self, url: str, accept: str, max_bytes: int | None
    ) -> tuple[MediaType, list[Part]]:
        fetched = self._http.get(url, accept, max_bytes=max_bytes)
        try:
            mt, parts = parse_multipart_related(fetched.content_type, fetched.body)
        except MultipartError as exc:
            raise ImageFetchFailed(
                FetchErrorCode.CORRUPT, f"bad DICOMweb response: {exc}"
            ) from None
        if not parts:
            raise ImageFetchFailed(FetchErrorCode.CORRUPT, "DICOMweb response has no parts")
        return mt, parts

    def retrieve_instance(
        self,
        study: str,
        series: str,
        instance: str,
        transfer_syntax: str = TS_ANY,
        max_bytes: int | None = None,
    ) -> bytes:
        """The instance as a DICOM Part 10 file (one part of multipart/related)."""
        url = self._instance_url(study, series, instance)
        _, parts = self._multipart(url, dicom_accept(transfer_syntax), max_bytes)
        part = parts[0]
        mt = part.media_type
        if mt is not None and mt.type not in ("application/dicom", "application/octet-stream"):
            raise ImageFetchFailed(
                FetchErrorCode.CORRUPT, f"expected application/dicom, got {mt.type}"
            )
        return part.body

    def retrieve_frames(
        self,
        study: str,
        series: str,
        instance: str,
        frames: Sequence[int] = (1,),
        transfer_syntax: str = TS_EXPLICIT_LE,
        max_bytes: int | None = None,
    ) -> list[FramePart]:
        """Pixel data of the given frames (1-based) as bulk data, one part per frame."""
        if not frames or any(f < 1 for f in frames):
            raise ValueError("frame numbers are 1-based")
        url = self._instance_url(study, series, instance) + "/frames/" + ",".join(map(str, frames))
        mt, parts = self._multipart(url, frame_accept(transfer_syntax), max_bytes)
        out: list[FramePart] = []
        for part in parts:
            pmt = part.media_type or MediaType(mt.param("type") or "application/octet-stream", {})
            ts = pmt.param("transfer-syntax") or mt.param("transfer-syntax")
            out.append(FramePart(pmt.type, ts, part.body))
        if len(out) != len(frames):
            raise ImageFetchFailed(
                FetchErrorCode.CORRUPT, f"asked for {len(frames)} frame(s), got {len(out)}"
            )
        return out

    def retrieve_metadata(self, study: str, series: str, instance: str) -> dict[str, Any]:
        url = self._instance_url(study, series, instance) + "/metadata"
        items = self._json(url, max_bytes=4 * 1024 * 1024)
        if not items or not isinstance(items[0], dict):
            raise ImageFetchFailed(FetchErrorCode.CORRUPT, "DICOMweb metadata is empty")
        return items[0]

    def search_instances(self, study: str, series: str | None = None) -> list[dict[str, Any]]:
        """QIDO-RS: the instances of a study (or one of its series), as DICOM JSON."""
        url = f"{self.base_url}/studies/{check_uid(study, 'study UID')}"
        if series is not None:
            url += f"/series/{check_uid(series, 'series UID')}"
        url += "/instances"
        return self._json(
            url, params={"includefield": list(QIDO_INCLUDE)}, max_bytes=8 * 1024 * 1024
        )

    def _json(
        self,
        url: str,
        params: dict[str, str | list[str]] | None = None,
        max_bytes: int | None = None,
    ) -> list[Any]:
        fetched = self._http.get(
            url,
            "application/dicom+json",
            params=params,
            max_bytes=max_bytes,
            ok_statuses=(200, 204),
        )
        if fetched.status == 204 or not fetched.body.strip():
            return []
        try:
            data = json.loads(fetched.body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ImageFetchFailed(
                FetchErrorCode.CORRUPT, "DICOMweb answered invalid JSON"
            ) from None
        if not isinstance(data, list):
            raise ImageFetchFailed(FetchErrorCode.CORRUPT, "DICOMweb JSON is not an array")
        return data
