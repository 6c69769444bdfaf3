"""DICOM and image decoding: exact pixels for each transfer syntax, and every bad case
caught on the header before decoding (unit tests on generated data)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.encaps import encapsulate

from plugin.imaging.config import ImagingLimits
from plugin.imaging.decode import (
    DicomHeader,
    check_header,
    decode_compressed_frame,
    decode_dataset,
    decode_image,
    decode_raw_frame,
    header_from_dataset,
    read_dicom,
    to_rgb8,
    unpad_jpeg,
)
from plugin.imaging.results import FetchErrorCode, ImageFetchFailed
from plugin.local_servers.dicom_testdata import (
    TS_EXPLICIT_LE,
    TS_JPEG2000_LOSSLESS,
    TS_JPEG_BASELINE,
    make_op_instance,
    make_pdf_instance,
)

LIMITS = ImagingLimits()


def jpeg_bytes(mode: str = "RGB", size: tuple[int, int] = (64, 48)) -> bytes:
    rng = np.random.default_rng(7)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    img = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def decoded(jpeg: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))


def instance(jpeg: bytes, ts: pydicom.uid.UID, laterality: str | None = "L") -> pydicom.Dataset:
    data = make_op_instance(
        jpeg,
        patient_id="p1",
        patient_name="Test^Patient",
        study_uid="1.2.3",
        series_uid="1.2.3.4",
        instance_uid="1.2.3.4.5",
        laterality=laterality,  # type: ignore[arg-type]
        transfer_syntax=ts,
    )
    return read_dicom(data)


def expect(code: FetchErrorCode, match: str = "") -> pytest.RaisesExc[ImageFetchFailed]:
    return pytest.raises(ImageFetchFailed, match=match)  # code checked by the caller


@pytest.mark.parametrize("ts", [TS_EXPLICIT_LE, TS_JPEG_BASELINE, TS_JPEG2000_LOSSLESS])
def test_each_transfer_syntax_decodes_to_the_source_pixels(ts: pydicom.uid.UID) -> None:
    jpeg = jpeg_bytes()
    ds = instance(jpeg, ts)
    header = header_from_dataset(ds)
    assert header.transfer_syntax_uid == str(ts)
    assert (header.rows, header.columns, header.image_laterality) == (48, 64, "L")
    rgb = decode_dataset(ds, header, LIMITS)
    assert rgb.dtype == np.uint8 and rgb.flags.c_contiguous
    np.testing.assert_array_equal(rgb, decoded(jpeg))


def test_grayscale_photograph_becomes_three_equal_channels() -> None:
    jpeg = jpeg_bytes("L")
    for ts in (TS_EXPLICIT_LE, TS_JPEG_BASELINE):
        ds = instance(jpeg, ts)
        rgb = decode_dataset(ds, header_from_dataset(ds), LIMITS)
        assert rgb.shape == (48, 64, 3)
        np.testing.assert_array_equal(rgb[..., 0], np.asarray(Image.open(io.BytesIO(jpeg))))
        np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])


def test_a_pdf_is_not_an_image() -> None:
    ds = read_dicom(
        make_pdf_instance(
            patient_id="p",
            patient_name="P",
            study_uid="1.2",
            series_uid="1.2.3",
            instance_uid="1.2.3.4",
        )
    )
    with pytest.raises(ImageFetchFailed, match="not an image") as exc:
        decode_dataset(ds, header_from_dataset(ds), LIMITS)
    assert exc.value.code is FetchErrorCode.NOT_AN_IMAGE


def test_huge_frame_is_refused_on_the_header() -> None:
    ds = instance(jpeg_bytes(), TS_EXPLICIT_LE)
    ds.Rows = ds.Columns = 30000
    with pytest.raises(ImageFetchFailed, match="exceeds the limit") as exc:
        decode_dataset(ds, header_from_dataset(ds), LIMITS)
    assert exc.value.code is FetchErrorCode.TOO_LARGE


def test_many_frames_exceed_the_decoded_size_limit() -> None:
    ds = instance(jpeg_bytes(), TS_EXPLICIT_LE)
    ds.NumberOfFrames = 100_000
    with pytest.raises(ImageFetchFailed) as exc:
        decode_dataset(ds, header_from_dataset(ds), LIMITS)
    assert exc.value.code is FetchErrorCode.TOO_LARGE


def test_codestream_larger_than_the_header_says_is_caught_before_decoding() -> None:
    ds = instance(jpeg_bytes(), TS_JPEG_BASELINE)
    ds.Rows, ds.Columns = 8, 8  # header lies: the JPEG inside is 64x48
    with pytest.raises(ImageFetchFailed, match="compressed frame is 64x48") as exc:
        decode_dataset(ds, header_from_dataset(ds), LIMITS)
    assert exc.value.code is FetchErrorCode.CORRUPT


def test_corrupt_jpeg_fragment() -> None:
    ds = instance(jpeg_bytes(), TS_JPEG_BASELINE)
    ds.PixelData = encapsulate([b"\xff\xd8" + b"\x00" * 500])
    with pytest.raises(ImageFetchFailed) as exc:
        decode_dataset(ds, header_from_dataset(ds), LIMITS)
    assert exc.value.code is FetchErrorCode.CORRUPT


def test_truncated_jpeg_fragment() -> None:
    jpeg = jpeg_bytes()
    ds = instance(jpeg, TS_JPEG_BASELINE)
    ds.PixelData = encapsulate([jpeg[: len(jpeg) // 2]])
    with pytest.raises(ImageFetchFailed, match="could not be decoded") as exc:
        decode_dataset(ds, header_from_dataset(ds), LIMITS)
    assert exc.value.code is FetchErrorCode.CORRUPT


def test_native_pixel_data_shorter_than_the_header() -> None:
    ds = instance(jpeg_bytes(), TS_EXPLICIT_LE)
    ds.PixelData = ds.PixelData[:100]
    with pytest.raises(ImageFetchFailed, match="shorter") as exc:
        decode_dataset(ds, header_from_dataset(ds), LIMITS)
    assert exc.value.code is FetchErrorCode.CORRUPT


def test_unreadable_dicom() -> None:
    with pytest.raises(ImageFetchFailed, match="not a readable DICOM") as exc:
        read_dicom(b"definitely not DICOM")
    assert exc.value.code is FetchErrorCode.CORRUPT


def _header(**kw: object) -> DicomHeader:
    base: dict[str, object] = dict(
        sop_class_uid="1.2.840.10008.5.1.4.1.1.77.1.5.1",
        rows=2,
        columns=3,
        samples=3,
        bits_allocated=8,
        bits_stored=8,
        frames=1,
        photometric="RGB",
        planar=0,
        image_laterality=None,
        laterality=None,
        acquired=None,
    )
    base.update(kw)
    return DicomHeader(**base)  # type: ignore[arg-type]


def test_raw_frames_interleaved_planar_and_ybr() -> None:
    rgb = np.arange(18, dtype=np.uint8).reshape(2, 3, 3)
    np.testing.assert_array_equal(decode_raw_frame(rgb.tobytes(), _header(), LIMITS), rgb)
    planar = rgb.transpose(2, 0, 1).tobytes()
    np.testing.assert_array_equal(decode_raw_frame(planar, _header(planar=1), LIMITS), rgb)
    ybr = pydicom.pixels.convert_color_space(rgb, "RGB", "YBR_FULL")
    out = decode_raw_frame(ybr.tobytes(), _header(photometric="YBR_FULL"), LIMITS)
    assert np.abs(out.astype(int) - rgb.astype(int)).max() <= 2
    with pytest.raises(ImageFetchFailed, match="shorter"):
        decode_raw_frame(b"\x00" * 5, _header(), LIMITS)


def test_sixteen_bit_and_monochrome1_are_scaled_and_inverted() -> None:
    mono16 = np.array([[0, 4095]], dtype=np.uint16)
    out = to_rgb8(
        mono16, _header(samples=1, bits_allocated=16, bits_stored=12, photometric="MONOCHROME2")
    )
    np.testing.assert_array_equal(out[0, :, 0], [0, 255])
    out = to_rgb8(
        np.array([[0, 255]], dtype=np.uint8), _header(samples=1, photometric="MONOCHROME1")
    )
    np.testing.assert_array_equal(out[0, :, 1], [255, 0])


def test_header_checks() -> None:
    check_header(_header(), LIMITS)
    with pytest.raises(ImageFetchFailed, match="Rows/Columns"):
        check_header(_header(rows=None), LIMITS)
    with pytest.raises(ImageFetchFailed, match="unsupported pixel format"):
        check_header(_header(samples=4), LIMITS)
    with pytest.raises(ImageFetchFailed, match="not an image"):
        check_header(_header(sop_class_uid="1.2.840.10008.5.1.4.1.1.88.11"), LIMITS)


def test_compressed_frame_from_wado_rs() -> None:
    jpeg = jpeg_bytes()
    h = _header(rows=48, columns=64, photometric="YBR_FULL_422")
    np.testing.assert_array_equal(decode_compressed_frame(jpeg, h, LIMITS), decoded(jpeg))
    with pytest.raises(ImageFetchFailed, match="header says"):
        decode_compressed_frame(jpeg, _header(rows=10, columns=10), LIMITS)


def test_unpad_jpeg() -> None:
    assert unpad_jpeg(b"\xff\xd8abc\xff\xd9\x00") == b"\xff\xd8abc\xff\xd9"
    assert unpad_jpeg(b"\xff\xd8ab\xff\xd9") == b"\xff\xd8ab\xff\xd9"


# --- Encoded images (attachments) ---------------------------------------------------------
def png_header_only(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    out = b"\x89PNG\r\n\x1a\n"
    for name, payload in ((b"IHDR", ihdr), (b"IDAT", zlib.compress(b"\x00" * 64)), (b"IEND", b"")):
        out += struct.pack(">I", len(payload)) + name + payload
        out += struct.pack(">I", zlib.crc32(name + payload))
    return out


def test_png_with_alpha_becomes_rgb() -> None:
    buf = io.BytesIO()
    Image.new("RGBA", (5, 4), (10, 20, 30, 0)).save(buf, format="PNG")
    rgb, fmt = decode_image(buf.getvalue(), LIMITS)
    assert fmt == "PNG" and rgb.shape == (4, 5, 3) and tuple(rgb[0, 0]) == (10, 20, 30)


@pytest.mark.parametrize("size", [(20000, 6000), (30000, 30000)])  # ours; and Pillow's own
def test_decompression_bomb_is_refused_from_the_header(size: tuple[int, int]) -> None:
    with pytest.raises(ImageFetchFailed, match="exceeds the limit") as exc:
        decode_image(png_header_only(*size), LIMITS)
    assert exc.value.code is FetchErrorCode.TOO_LARGE


@pytest.mark.parametrize("data", [b"", b"GIF89a garbage", jpeg_bytes()[:200]])
def test_undecodable_images(data: bytes) -> None:
    with pytest.raises(ImageFetchFailed) as exc:
        decode_image(data, LIMITS)
    assert exc.value.code is FetchErrorCode.CORRUPT
