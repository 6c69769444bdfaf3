"""The photographs as the review page shows them, and the lesion-map overlays.

The grader's lesion maps cover the square crop around the fundus circle that the grader
saw (models.grader.preprocess.crop_to_field), so the page shows that same crop: the
overlay then lies exactly over what the model looked at. When no circle can be found the
whole photograph is shown and the overlay is not offered.

Images are fetched again from the EHR with the clinician's token when the page asks
(nothing is stored); rendered JPEGs are kept in a small per-process LRU for a few minutes.
"""

from __future__ import annotations

import io
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from models.grader.result import LESION_KEYS, ImageGrading
from plugin.fhir.gateway import FhirGateway
from plugin.imaging.config import ImagingSettings
from plugin.imaging.fetcher import ImageFetcher
from plugin.imaging.http import TokenProvider
from plugin.imaging.results import RetrievedImage
from plugin.signoff.state import split_ref

SIZES = {"thumb": 160, "full": 768}
CACHE_ITEMS = 48
CACHE_TTL_S = 300.0
# Overlay: the lesion maps are per-cell probabilities (sigmoid, trained with a positive
# weight), and the reference model puts 0.2-0.3 over most of the field, so a low floor washes
# the whole photograph. Shade from _SHADE_FROM (yellow, faint) to 1 (red, stronger) and draw a
# white outline where the map reaches _OUTLINE_AT (the lesion-presence threshold).
_SHADE_FROM = 0.4
_OUTLINE_AT = 0.5
_ALPHA_MIN, _ALPHA_MAX = 40, 170


class ImageUnavailable(Exception):
    """The photograph cannot be shown (gone, refused, undecodable). Message safe to show."""


@dataclass(frozen=True)
class Rendered:
    jpeg: bytes
    cropped: bool  # True: the grader's square crop (overlays align)


class RenderCache:
    def __init__(self) -> None:
        self._items: OrderedDict[tuple[str, ...], tuple[float, Rendered]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...]) -> Rendered | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None or time.monotonic() - hit[0] > CACHE_TTL_S:
                self._items.pop(key, None)
                return None
            self._items.move_to_end(key)
            return hit[1]

    def put(self, key: tuple[str, ...], value: Rendered) -> None:
        with self._lock:
            self._items[key] = (time.monotonic(), value)
            while len(self._items) > CACHE_ITEMS:
                self._items.popitem(last=False)


def fetch_image(
    gateway: FhirGateway,
    imaging: ImagingSettings,
    token: TokenProvider,
    source_ref: str,
    image_id: str | None,
) -> RetrievedImage:
    """The image `image_id` of `source_ref`; its first image when `image_id` is None."""
    try:
        rtype, rid = split_ref(source_ref)
    except ValueError:
        raise ImageUnavailable("the image reference is malformed") from None
    resource = gateway.read(rtype, rid)
    with ImageFetcher(
        gateway, imaging, fhir_base_url=gateway.base_url, fhir_token=token
    ) as fetcher:
        found = fetcher.fetch_resource(resource)
    for img in found.images:
        if image_id is None or img.image_id == image_id:
            return img
    reason = next((e.reason for e in found.errors if image_id in (None, e.image_id)), None)
    reason = reason or next((s.reason for s in found.skipped), None)
    raise ImageUnavailable(reason or "the image is no longer in the record")


def field_crop(rgb: NDArray[np.uint8], side: int) -> tuple[NDArray[np.uint8], bool]:
    try:
        from models.grader.preprocess import crop_to_field

        return crop_to_field(rgb, side).image, True
    except Exception:  # no fundus circle found, or no preprocessing module in this build
        return rgb, False


def render(image: RetrievedImage, size: str) -> Rendered:
    side = SIZES.get(size, SIZES["thumb"])
    array, cropped = field_crop(image.rgb, side)
    pil = Image.fromarray(array)
    if not cropped:
        pil.thumbnail((side, side))
    out = io.BytesIO()
    pil.convert("RGB").save(out, format="JPEG", quality=88)
    return Rendered(out.getvalue(), cropped)


def lesion_overlay(grading: ImageGrading, lesions: Sequence[str], side: int) -> bytes | None:
    """A transparent PNG (side x side) of the chosen lesion maps (max over them); None when
    the model gave no map for any of them."""
    maps = []
    for key in lesions:
        finding = grading.lesions.get(key)
        if finding is not None and finding.map:
            maps.append(np.asarray(finding.map, dtype=np.float32))
    if not maps:
        return None
    shape = maps[0].shape
    combined = np.clip(np.max(np.stack([m for m in maps if m.shape == shape]), axis=0), 0, 1)
    small = Image.fromarray((combined * 255).astype(np.uint8), mode="L")
    value = np.asarray(small.resize((side, side), Image.Resampling.BILINEAR), np.float32) / 255
    strength = np.clip((value - _SHADE_FROM) / (1.0 - _SHADE_FROM), 0.0, 1.0)
    rgba = np.zeros((side, side, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 1] = np.clip((1.0 - strength) * 220, 0, 255).astype(np.uint8)  # yellow -> red
    alpha = np.where(value >= _SHADE_FROM, _ALPHA_MIN + strength * (_ALPHA_MAX - _ALPHA_MIN), 0)
    rgba[..., 3] = np.clip(alpha, 0, 255).astype(np.uint8)
    rgba[_outline(value >= _OUTLINE_AT)] = (255, 255, 255, 255)
    out = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(out, format="PNG")
    return out.getvalue()


def _outline(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """The boundary of `mask`, two pixels wide (one inside, one outside)."""
    padded = np.pad(mask, 1, mode="edge")
    around = (padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:])
    return (mask & ~np.logical_and.reduce(around)) | (~mask & np.logical_or.reduce(around))


def lesion_keys_with_maps(grading: ImageGrading) -> list[str]:
    return [k for k in LESION_KEYS if (f := grading.lesions.get(k)) is not None and f.map]
