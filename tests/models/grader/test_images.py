"""Safe decoding: every odd input becomes RGB uint8 or a clear BadImage."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from models.grader.errors import BadImage
from models.grader.images import MAX_PIXELS, as_rgb, decode_image


def encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (a decompression bomb's calling card)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def test_rgb_jpeg_round_trips() -> None:
    arr = np.zeros((64, 80, 3), np.uint8)
    arr[..., 0] = 200
    out = decode_image(encode(Image.fromarray(arr), "JPEG", quality=95))
    assert out.shape == (64, 80, 3) and out.dtype == np.uint8
    assert abs(int(out[..., 0].mean()) - 200) < 3


def test_png_with_alpha_is_composited_on_black() -> None:
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., 1] = 255
    rgba[:20, :, 3] = 255  # top half opaque green, bottom half transparent
    out = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert out.shape == (40, 40, 3)
    assert out[5, 5].tolist() == [0, 255, 0] and out[35, 5].tolist() == [0, 0, 0]


def test_grayscale_becomes_three_equal_channels() -> None:
    gray = Image.fromarray(np.full((50, 60), 77, np.uint8), "L")
    out = decode_image(encode(gray, "PNG"))
    assert out.shape == (50, 60, 3) and (out == 77).all()


def test_sixteen_bit_grayscale_is_scaled() -> None:
    arr = np.full((40, 40), 65535, np.uint16)
    arr[:, :20] = 0
    out = decode_image(encode(Image.fromarray(arr), "PNG"))
    assert out[0, 0].tolist() == [0, 0, 0] and out[0, 39].tolist() == [255, 255, 255]


def test_cmyk_jpeg_becomes_rgb() -> None:
    cmyk = Image.new("CMYK", (48, 48), (0, 255, 255, 0))  # red in CMYK
    out = decode_image(encode(cmyk, "JPEG", quality=95))
    assert out.shape == (48, 48, 3)
    assert out[..., 0].mean() > 200 and out[..., 1].mean() < 60


def test_corrupt_jpeg() -> None:
    good = encode(Image.fromarray(np.full((64, 64, 3), 128, np.uint8)), "JPEG")
    with pytest.raises(BadImage, match="corrupt or truncated"):
        decode_image(good[: len(good) // 3])


def test_not_an_image() -> None:
    with pytest.raises(BadImage, match="not a recognised image"):
        decode_image(b"%PDF-1.7 this is not an image")


def test_empty() -> None:
    with pytest.raises(BadImage, match="empty"):
        decode_image(b"")


def test_one_by_one_pixel() -> None:
    with pytest.raises(BadImage, match="too small"):
        decode_image(encode(Image.new("RGB", (1, 1)), "PNG"))


def test_huge_header_refused_before_decoding() -> None:
    with pytest.raises(BadImage, match="too large"):
        decode_image(png_header_only(20000, 20000))
    assert 20000 * 20000 > MAX_PIXELS


def test_as_rgb_accepts_common_array_layouts() -> None:
    assert as_rgb(np.zeros((40, 40), np.uint8)).shape == (40, 40, 3)
    assert as_rgb(np.zeros((40, 40, 4), np.uint8)).shape == (40, 40, 3)
    assert as_rgb(np.full((40, 40, 3), 65535, np.uint16)).max() == 255
    with pytest.raises(BadImage):
        as_rgb(np.zeros((40, 40, 3), np.float32))
    with pytest.raises(BadImage):
        as_rgb(np.zeros((4, 4, 3), np.uint8))
