"""Bytes -> RGB uint8 arrays, with every size check made on headers before decoding.

DICOM (pydicom; JPEG baseline and JPEG 2000 through Pillow, RLE natively): SOP class must be
a photograph, Rows*Columns*Samples*Frames within limits, the codestream inside an
encapsulated frame must have the size the DICOM header claims. Encoded images (JPEG, PNG,
TIFF) through Pillow with the same pixel cap.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
from PIL import Image, UnidentifiedImageError
from pydicom.dataset import Dataset
from pydicom.encaps import get_frame
from pydicom.errors import InvalidDicomError
from pydicom.pixels import convert_color_space, get_decoder, pixel_array
from pydicom.uid import UID

from fhir_mappers.imaging import IMAGE_SOP_CLASSES
from plugin.imaging.config import ImagingLimits
from plugin.imaging.dicomweb import json_value
from plugin.imaging.results import FetchErrorCode, ImageFetchFailed

RGB = npt.NDArray[np.uint8]

PIL_FORMATS: dict[str, str] = {"JPEG": "image/jpeg", "PNG": "image/png", "TIFF": "image/tiff"}


@dataclass(frozen=True)
class DicomHeader:
    sop_class_uid: str | None
    rows: int | None
    columns: int | None
    samples: int
    bits_allocated: int
    bits_stored: int
    frames: int
    photometric: str
    planar: int
    image_laterality: str | None
    laterality: str | None
    acquired: date | None
    transfer_syntax_uid: str | None = None


def _int(v: Any, default: int) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def _dicom_date(*values: Any) -> date | None:
    for v in values:
        s = str(v or "").strip()
        if len(s) >= 8 and s[:8].isdigit():
            try:
                return date(int(s[:4]), int(s[4:6]), int(s[6:8]))
            except ValueError:
                continue
    return None


def header_from_dataset(ds: Dataset) -> DicomHeader:
    meta = getattr(ds, "file_meta", None)
    ts = str(meta.TransferSyntaxUID) if meta is not None and "TransferSyntaxUID" in meta else None
    return DicomHeader(
        sop_class_uid=str(ds.get("SOPClassUID", "")) or None,
        rows=_int(ds.get("Rows"), 0) or None,
        columns=_int(ds.get("Columns"), 0) or None,
        samples=_int(ds.get("SamplesPerPixel"), 1),
        bits_allocated=_int(ds.get("BitsAllocated"), 8),
        bits_stored=_int(ds.get("BitsStored"), _int(ds.get("BitsAllocated"), 8)),
        frames=max(1, _int(ds.get("NumberOfFrames"), 1)),
        photometric=str(ds.get("PhotometricInterpretation", "")).strip().upper(),
        planar=_int(ds.get("PlanarConfiguration"), 0),
        image_laterality=str(ds.get("ImageLaterality", "")) or None,
        laterality=str(ds.get("Laterality", "")) or None,
        acquired=_dicom_date(
            ds.get("AcquisitionDateTime"), ds.get("ContentDate"), ds.get("StudyDate")
        ),
        transfer_syntax_uid=ts,
    )


def header_from_json(item: dict[str, Any]) -> DicomHeader:
    """The same header from WADO-RS metadata (DICOM JSON)."""
    bits = _int(json_value(item, "00280100"), 8)
    return DicomHeader(
        sop_class_uid=json_value(item, "00080016"),
        rows=_int(json_value(item, "00280010"), 0) or None,
        columns=_int(json_value(item, "00280011"), 0) or None,
        samples=_int(json_value(item, "00280002"), 1),
        bits_allocated=bits,
        bits_stored=_int(json_value(item, "00280101"), bits),
        frames=max(1, _int(json_value(item, "00280008"), 1)),
        photometric=str(json_value(item, "00280004") or "").strip().upper(),
        planar=_int(json_value(item, "00280006"), 0),
        image_laterality=json_value(item, "00200062"),
        laterality=json_value(item, "00200060"),
        acquired=_dicom_date(
            json_value(item, "0008002A"), json_value(item, "00080023"), json_value(item, "00080020")
        ),
    )


def check_header(h: DicomHeader, limits: ImagingLimits) -> None:
    """SOP class and sizes, before a single pixel is decoded."""
    if h.sop_class_uid not in IMAGE_SOP_CLASSES:
        raise ImageFetchFailed(
            FetchErrorCode.NOT_AN_IMAGE,
            f"not an image: SOP class {h.sop_class_uid or 'missing'} is not a photograph",
        )
    if not h.rows or not h.columns:
        raise ImageFetchFailed(FetchErrorCode.CORRUPT, "DICOM header has no Rows/Columns")
    if h.samples not in (1, 3) or h.bits_allocated not in (8, 16):
        raise ImageFetchFailed(
            FetchErrorCode.UNSUPPORTED,
            f"unsupported pixel format ({h.samples} samples, {h.bits_allocated} bits)",
        )
    pixels = h.rows * h.columns
    if pixels > limits.max_pixels:
        raise ImageFetchFailed(
            FetchErrorCode.TOO_LARGE,
            f"frame of {h.columns}x{h.rows} pixels exceeds the limit of {limits.max_pixels}",
        )
    decoded = pixels * h.samples * (h.bits_allocated // 8) * h.frames
    if decoded > limits.max_decoded_bytes:
        raise ImageFetchFailed(
            FetchErrorCode.TOO_LARGE, f"decoded size {decoded} bytes exceeds the limit"
        )


def read_dicom(data: bytes) -> Dataset:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pydicom.dcmread(io.BytesIO(data))
    except (InvalidDicomError, EOFError, ValueError, KeyError, TypeError, OSError):
        raise ImageFetchFailed(FetchErrorCode.CORRUPT, "not a readable DICOM file") from None


def can_decode(transfer_syntax_uid: str | None) -> bool:
    if not transfer_syntax_uid:
        return False
    try:
        return bool(get_decoder(UID(transfer_syntax_uid)).is_available)
    except (NotImplementedError, ValueError):
        return False


def _codestream_size(frame: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG/JPEG 2000 codestream header, without decoding it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(frame)) as im:
                return im.size
    except Image.DecompressionBombError:
        raise ImageFetchFailed(FetchErrorCode.TOO_LARGE, "compressed frame is too large") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ImageFetchFailed(FetchErrorCode.CORRUPT, "compressed frame is unreadable") from None


def _check_codestream(frame: bytes, h: DicomHeader) -> None:
    width, height = _codestream_size(frame)
    if (width, height) != (h.columns, h.rows):
        raise ImageFetchFailed(
            FetchErrorCode.CORRUPT,
            f"compressed frame is {width}x{height}, header says {h.columns}x{h.rows}",
        )


JPEG_8BIT_SYNTAXES = frozenset({"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51"})


def _libjpeg_colour_ok(frame: bytes, h: DicomHeader) -> bool:
    """Whether libjpeg's own colour conversion (what Pillow and every JPEG viewer apply, and
    what attachments get) is right for this frame: YCbCr-coded or greyscale JPEG. Decoding
    the same JPEG the same way whatever its source keeps pixels and hashes identical."""
    if h.photometric in ("YBR_FULL_422", "YBR_FULL", "MONOCHROME2") and h.bits_stored == 8:
        return True
    if h.photometric == "RGB":  # no colour transform: only if the APP14 marker says so
        with Image.open(io.BytesIO(frame)) as im:
            return im.info.get("adobe_transform") == 0
    return False


def unpad_jpeg(frame: bytes) -> bytes:
    """A JPEG frame without the pad byte DICOM adds to odd-length fragments (PS3.5 A.4)."""
    if frame.endswith(b"\xff\xd9\x00"):
        return frame[:-1]
    return frame


def to_rgb8(arr: npt.NDArray[Any], h: DicomHeader) -> RGB:
    """Decoded pixels (photometric already RGB or MONOCHROME) -> H x W x 3 uint8."""
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.dtype != np.uint8:
        top = float((1 << max(1, min(h.bits_stored, 16))) - 1)
        arr = (np.clip(arr.astype(np.float64), 0, top) * (255.0 / top) + 0.5).astype(np.uint8)
    if arr.shape[-1] == 1:
        if h.photometric == "MONOCHROME1":
            arr = 255 - arr
        arr = np.repeat(arr, 3, axis=-1)
    return np.ascontiguousarray(arr, dtype=np.uint8)


def decode_dataset(ds: Dataset, h: DicomHeader, limits: ImagingLimits) -> RGB:
    """First frame of a DICOM image as RGB, after the header checks."""
    check_header(h, limits)
    if "PixelData" not in ds:
        raise ImageFetchFailed(FetchErrorCode.CORRUPT, "DICOM instance has no pixel data")
    if h.photometric == "PALETTE COLOR":
        raise ImageFetchFailed(
            FetchErrorCode.UNSUPPORTED, "palette colour images are not supported"
        )
    ts = h.transfer_syntax_uid
    if not can_decode(ts):
        raise ImageFetchFailed(FetchErrorCode.UNSUPPORTED, f"cannot decode transfer syntax {ts}")
    assert h.rows is not None and h.columns is not None  # check_header made sure
    if ts and UID(ts).is_encapsulated:
        try:
            first = get_frame(ds.PixelData, 0, number_of_frames=h.frames)
        except (ValueError, IndexError, KeyError, TypeError):
            raise ImageFetchFailed(
                FetchErrorCode.CORRUPT, "encapsulated pixel data is broken"
            ) from None
        if ts != "1.2.840.10008.1.2.5":  # RLE has no codestream header to check
            _check_codestream(first, h)
        if ts in JPEG_8BIT_SYNTAXES and _libjpeg_colour_ok(first, h):
            rgb, _ = decode_image(first, limits)
            return rgb
    elif len(ds.PixelData) < h.rows * h.columns * h.samples * (h.bits_allocated // 8):
        raise ImageFetchFailed(FetchErrorCode.CORRUPT, "pixel data is shorter than the header says")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = pixel_array(ds, index=0)
    except Exception:  # decoder plugins raise many kinds on corrupt data; all mean the same
        raise ImageFetchFailed(FetchErrorCode.CORRUPT, "pixel data could not be decoded") from None
    return to_rgb8(arr, h)


def decode_raw_frame(data: bytes, h: DicomHeader, limits: ImagingLimits) -> RGB:
    """An uncompressed (explicit VR little endian) frame from WADO-RS bulk data."""
    check_header(h, limits)
    assert h.rows is not None and h.columns is not None
    nbytes = h.bits_allocated // 8
    expected = h.rows * h.columns * h.samples * nbytes
    if len(data) < expected:
        raise ImageFetchFailed(FetchErrorCode.CORRUPT, "frame is shorter than the header says")
    dtype = np.dtype("<u2") if nbytes == 2 else np.dtype(np.uint8)
    flat = np.frombuffer(data[:expected], dtype=dtype)
    if h.samples == 3 and h.planar == 1:
        arr = flat.reshape(3, h.rows, h.columns).transpose(1, 2, 0)
    else:
        arr = flat.reshape(h.rows, h.columns, h.samples)
    if h.samples == 3 and h.photometric.startswith("YBR_FULL"):
        arr = convert_color_space(arr, "YBR_FULL", "RGB")
    elif h.samples == 3 and h.photometric not in ("RGB", ""):
        raise ImageFetchFailed(
            FetchErrorCode.UNSUPPORTED, f"photometric interpretation {h.photometric} in raw frame"
        )
    return to_rgb8(arr, h)


def decode_compressed_frame(data: bytes, h: DicomHeader, limits: ImagingLimits) -> RGB:
    """A JPEG / JPEG 2000 frame from WADO-RS bulk data (image/jpeg, image/jp2)."""
    check_header(h, limits)
    _check_codestream(data, h)
    rgb, _ = decode_image(data, limits)
    return rgb


def decode_image(data: bytes, limits: ImagingLimits) -> tuple[RGB, str]:
    """An encoded image (JPEG, PNG, TIFF, JPEG 2000 codestream) -> (RGB, detected format)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
                if width * height > limits.max_pixels:
                    raise ImageFetchFailed(
                        FetchErrorCode.TOO_LARGE,
                        f"image of {width}x{height} pixels exceeds the limit "
                        f"of {limits.max_pixels}",
                    )
                fmt = im.format or ""
                im.load()
                rgb = im.convert("RGB")
                return np.ascontiguousarray(np.asarray(rgb), dtype=np.uint8), fmt
    except ImageFetchFailed:
        raise
    except Image.DecompressionBombError:
        raise ImageFetchFailed(
            FetchErrorCode.TOO_LARGE, "image exceeds the limit of pixels"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise ImageFetchFailed(FetchErrorCode.CORRUPT, "image could not be decoded") from None
