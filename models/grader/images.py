"""Safe image decoding for the grader: untrusted bytes in, RGB uint8 out, or BadImage.

Guards: size of the encoded data, pixel count read from the header before decoding
(decompression bombs), minimum size, corrupt/truncated data, and every PIL mode
(palette, grayscale, 16-bit, alpha, CMYK) converted to RGB. JPEGs are decoded with DCT
scaling ("draft") straight to about twice the network's input size, which is both faster
and what the crop would average down to anyway.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from models.grader.errors import BadImage

MAX_ENCODED_BYTES = 64 * 1024 * 1024
MAX_PIXELS = 60_000_000  # e.g. 9000 x 6600; larger headers are refused before decoding
MIN_SIDE = 32


def decode_image(data: bytes, draft_side: int | None = None) -> NDArray[np.uint8]:
    """Decode image bytes (JPEG, PNG, TIFF, BMP, WebP...) to an RGB uint8 array."""
    if len(data) == 0:
        raise BadImage("empty file")
    if len(data) > MAX_ENCODED_BYTES:
        raise BadImage(f"file too large (over {MAX_ENCODED_BYTES // (1024 * 1024)} MB)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(data))
            w, h = img.size  # from the header: nothing decoded yet
            if w * h > MAX_PIXELS:
                raise BadImage(f"image too large ({w}x{h} pixels; limit {MAX_PIXELS:,})")
            if min(w, h) < MIN_SIDE:
                raise BadImage(f"image too small ({w}x{h} pixels; need {MIN_SIDE} or more)")
            if draft_side and img.format == "JPEG" and isinstance(img, ImageFile.ImageFile):
                img.draft("RGB", (2 * draft_side, 2 * draft_side))
            img.load()
            img = ImageOps.exif_transpose(img)
            rgb = _to_rgb(img)
    except BadImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadImage(f"image too large (over {MAX_PIXELS:,} pixels)") from None
    except UnidentifiedImageError:
        raise BadImage("not a recognised image format") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise BadImage("corrupt or truncated image data") from None
    return rgb


def _to_rgb(img: Image.Image) -> NDArray[np.uint8]:
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))  # fundus surround: black
        img = Image.alpha_composite(background, rgba)
    elif img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = float(arr.max()) or 1.0
        img = Image.fromarray((arr / top * 255.0).astype(np.uint8))
    elif img.mode == "F":
        raise BadImage("floating-point images are not supported")
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def load_image(path: Path, draft_side: int | None = None) -> NDArray[np.uint8]:
    if not path.is_file():
        raise BadImage(f"{path.name}: no such file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadImage(f"{path.name}: cannot read ({exc.strerror})") from None
    return decode_image(data, draft_side)


def as_rgb(array: NDArray[np.generic]) -> NDArray[np.uint8]:
    """Accept an already decoded array: HxW (grey), HxWx1/3/4 (alpha dropped), uint8 or
    uint16 (scaled down)."""
    a = np.asarray(array)
    if a.dtype == np.uint16:
        a = (a // 257).astype(np.uint8)
    if a.dtype != np.uint8:
        raise BadImage(f"unsupported pixel type {a.dtype}")
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise BadImage(f"unsupported image shape {a.shape}")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    elif a.shape[2] == 4:
        a = a[..., :3]
    if min(a.shape[:2]) < MIN_SIDE:
        raise BadImage(f"image too small ({a.shape[1]}x{a.shape[0]} pixels)")
    return np.ascontiguousarray(a)
