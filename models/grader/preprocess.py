"""Fundus preprocessing: one implementation for training and serving.

Pipeline (`preprocess`): find the fundus field (the bright disc on a dark background),
crop a square around its fitted circle (padding where the camera cut the circle), resize,
then normalise colour so that photographs from different cameras and the
histogram-equalised EyePACS training set look alike:

1. per-channel histogram equalisation *inside the field*. Any monotonic per-channel change
   (exposure, gamma, white balance, the upstream equalisation of EyePACS-eq256) is undone
   by it, so natural-colour photographs land in the same colour space as the training set;
2. local-average subtraction (Ben Graham, Kaggle 2015) with a normalised-convolution blur
   that ignores the black surround: removes uneven illumination and vignetting.

Training caches step "crop" (`crop_to_field`) and applies augmentations to the raw crop
before step "normalise" (`normalise_colour`), so both paths share the same code.

"No fundus here" (`FieldNotFound`): the lit area must be a sizeable, nearly circular
region with dark surroundings. A cat photo, a document or a blank frame fails that.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from numpy.typing import NDArray

from models.grader.errors import BadImage

U8 = NDArray[np.uint8]
F32 = NDArray[np.float32]

ANALYSIS_SIDE = 256
"""Field detection runs on a copy whose longer side is this many pixels (fast, enough)."""


class FieldNotFound(BadImage):
    """The image does not show a fundus field (a photo of something else, blank, ...)."""


@dataclass(frozen=True)
class FieldParams:
    """Thresholds of the field detector (stored in bundle metadata)."""

    dark_level: float = 0.08  # lit = brighter than this fraction of the 99th-pct luma
    min_area_fraction: float = 0.12  # field area / image area
    min_fill_inside: float = 0.80  # lit fraction of the fitted circle (inside the image)
    max_lit_outside: float = 0.20  # lit fraction of the image outside the fitted circle
    min_contrast: float = 12.0  # 99th-pct luma must exceed this (0-255): not a black frame


@dataclass(frozen=True)
class NormaliseParams:
    """Colour normalisation (stored in bundle metadata; training and serving share it).

    The network sees three views of the green channel (the channel with the best lesion
    contrast, and the one whose upstream equalisation is undone exactly by ours):
    equalised intensity, fine detail (microaneurysms, vessels) and mid-scale detail
    (haemorrhages, exudate clusters), each as local-average subtraction around mid-grey."""

    fine_sigma_fraction: float = 1.0 / 64.0  # Gaussian sigma / output side
    coarse_sigma_fraction: float = 1.0 / 12.0
    fine_gain: float = 3.0
    coarse_gain: float = 1.5
    mask_radius_fraction: float = 0.96  # keep the field, drop its bright rim


@dataclass(frozen=True)
class Field:
    """The fitted fundus circle in source-image pixels."""

    cx: float
    cy: float
    radius: float
    area_fraction: float
    fill_inside: float
    lit_outside: float


@dataclass(frozen=True)
class Crop:
    """A square crop centred on the field: `image` (uint8 RGB, side x side) and `valid`
    (uint8 0/1: inside the fitted circle and inside the source image)."""

    image: U8
    valid: U8
    field: Field


def _luma(rgb: U8) -> NDArray[np.float32]:
    return (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]).astype(np.float32)


def _fit_circle(xs: NDArray[np.float64], ys: NDArray[np.float64]) -> tuple[float, float, float]:
    """Least-squares (Kasa) circle through boundary points."""
    a = np.stack([xs, ys, np.ones_like(xs)], axis=1)
    b = xs**2 + ys**2
    sol, *_ = np.linalg.lstsq(a, b, rcond=None)
    cx, cy = sol[0] / 2.0, sol[1] / 2.0
    r2 = sol[2] + cx**2 + cy**2
    return float(cx), float(cy), float(np.sqrt(max(r2, 0.0)))


def _robust_circle(xs: NDArray[np.float64], ys: NDArray[np.float64]) -> tuple[float, float, float]:
    """Circle fit that ignores straight cuts: cameras often crop the circle at the top and
    bottom, and those chord points lie inside the true circle, so they are dropped."""
    cx, cy, r = _fit_circle(xs, ys)
    for _ in range(5):
        resid = np.hypot(xs - cx, ys - cy) - r
        keep = (resid > -max(1.5, 0.02 * r)) & (resid < max(3.0, 0.1 * r))
        if keep.sum() < 12:
            break
        cx, cy, r = _fit_circle(xs[keep], ys[keep])
    return cx, cy, r


def find_field(rgb: U8, params: FieldParams = FieldParams()) -> Field:
    """Locate the fundus circle; raise FieldNotFound when there is none."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or min(rgb.shape[:2]) < 32:
        raise FieldNotFound("image too small to contain a fundus photograph")
    h, w = rgb.shape[:2]
    scale = ANALYSIS_SIDE / max(h, w)
    small: U8 = cv2.resize(  # type: ignore[assignment]
        rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    luma = np.asarray(cv2.medianBlur(_luma(small), 5), np.float32)  # speckle in the surround
    top = float(np.percentile(luma, 99))
    if top < params.min_contrast:
        raise FieldNotFound("image is blank or too dark: no fundus field found")
    try:
        found = _field_at(luma, max(params.dark_level * top, 4.0), params)
    except FieldNotFound:
        # Second chance for noisy surrounds: Otsu's split between field and surround.
        otsu, _ = cv2.threshold(luma.astype(np.uint8), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        threshold = max(params.dark_level * top, 0.5 * float(otsu), 4.0)
        found = _field_at(luma, threshold, params, open_size=9)
    return Field(
        cx=found.cx / scale,
        cy=found.cy / scale,
        radius=found.radius / scale,
        area_fraction=found.area_fraction,
        fill_inside=found.fill_inside,
        lit_outside=found.lit_outside,
    )


def _field_at(luma: F32, threshold: float, params: FieldParams, open_size: int = 3) -> Field:
    """Field detection at one threshold, in the analysis image's pixels."""
    sh, sw = luma.shape
    lit = (luma > threshold).astype(np.uint8)
    kernel = np.ones((open_size, open_size), np.uint8)
    lit = np.asarray(cv2.morphologyEx(lit, cv2.MORPH_OPEN, kernel), np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(lit, connectivity=8)
    if n <= 1:
        raise FieldNotFound("no fundus field found")
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    field = (labels == largest).astype(np.uint8)
    # Fill holes (dark lesions, pupil shadows) so the boundary is the field's outline.
    contours, _ = cv2.findContours(field, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)[:, 0, :].astype(np.float64)
    filled = np.zeros_like(field)
    cv2.drawContours(filled, [contour.astype(np.int32)[:, None, :]], -1, 1, thickness=-1)
    area_fraction = float(filled.sum()) / (sh * sw)
    # Boundary points on the image edge are where the camera cut the circle: not circle.
    xs, ys = contour[:, 0], contour[:, 1]
    inner = (xs > 1) & (xs < sw - 2) & (ys > 1) & (ys < sh - 2)
    if inner.sum() < 12:
        raise FieldNotFound("lit area fills the frame: not a fundus photograph")
    cx, cy, r = _robust_circle(xs[inner], ys[inner])
    if not (r > 0.15 * max(sh, sw) and r < 0.75 * max(sh, sw)):
        raise FieldNotFound("no circular fundus field found")
    yy, xx = np.mgrid[0:sh, 0:sw]
    inside = (xx - cx) ** 2 + (yy - cy) ** 2 <= r**2
    fill_inside = float(filled[inside].mean()) if inside.any() else 0.0
    outside = ~inside
    lit_outside = float(lit[outside].mean()) if outside.any() else 0.0
    if area_fraction < params.min_area_fraction:
        raise FieldNotFound("fundus field too small or absent")
    if fill_inside < params.min_fill_inside or lit_outside > params.max_lit_outside:
        raise FieldNotFound("no circular fundus field on a dark background found")
    return Field(
        cx=cx,
        cy=cy,
        radius=r,
        area_fraction=area_fraction,
        fill_inside=fill_inside,
        lit_outside=lit_outside,
    )


def warp_square(arr: NDArray[np.uint8], field: Field, side: int) -> NDArray[np.uint8]:
    """Map the field's bounding square of `arr` (image or mask, same size as the source)
    onto side x side pixels, black outside the source."""
    h, w = arr.shape[:2]
    s = side / (2.0 * field.radius)
    src = arr
    if s < 0.5:  # shrink with area averaging first: warpAffine alone would alias
        factor = max(1, int(np.floor(0.5 / s)))
        src = cv2.resize(  # type: ignore[assignment]
            arr, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA
        )
    fx, fy = src.shape[1] / w, src.shape[0] / h
    sx, sy = s / fx, s / fy
    x0, y0 = (field.cx - field.radius) * fx, (field.cy - field.radius) * fy
    m = np.array([[sx, 0.0, -x0 * sx], [0.0, sy, -y0 * sy]], dtype=np.float64)
    out = cv2.warpAffine(
        src, m, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    return np.ascontiguousarray(out)


def crop_to_field(rgb: U8, side: int, params: FieldParams = FieldParams()) -> Crop:
    """Square crop of side `side` around the fitted field circle, padded with black."""
    field = find_field(rgb, params)
    image = warp_square(rgb, field, side)
    inside_src = warp_square(np.full(rgb.shape[:2], 255, np.uint8), field, side)
    inside = circle_mask(side, 1.0) & (inside_src > 127)
    valid = (inside & ~_padding_bands(image, inside)).astype(np.uint8)
    return Crop(image=image, valid=valid, field=field)


@lru_cache(maxsize=16)
def _circle_mask_cached(side: int, radius_fraction: float) -> NDArray[np.bool_]:
    c = (side - 1) / 2.0
    yy, xx = np.mgrid[0:side, 0:side]
    mask = bool_array((xx - c) ** 2 + (yy - c) ** 2 <= (radius_fraction * side / 2.0) ** 2)
    mask.setflags(write=False)
    return mask


def circle_mask(side: int, radius_fraction: float) -> NDArray[np.bool_]:
    """Disc of the given radius (fraction of side / 2) centred in a side x side square."""
    return _circle_mask_cached(side, radius_fraction)


def bool_array(a: NDArray[np.bool_]) -> NDArray[np.bool_]:
    return np.asarray(a, dtype=bool)


def equalise_in_mask(rgb: U8, mask: NDArray[np.bool_]) -> U8:
    """Per-channel histogram equalisation using only pixels inside `mask`."""
    out = np.zeros_like(rgb)
    if mask.sum() < 16:
        return out
    for c in range(3):
        chan = rgb[..., c]
        hist = np.bincount(chan[mask], minlength=256).astype(np.float64)
        cdf = np.cumsum(hist)
        cdf = (cdf - cdf[0]) / max(cdf[-1] - cdf[0], 1.0)
        lut = np.clip(np.round(cdf * 255.0), 0, 255).astype(np.uint8)
        out[..., c] = lut[chan]
    return out


def _blur(img: F32, sigma: float) -> F32:
    if sigma <= 6.0:
        return np.asarray(cv2.GaussianBlur(img, (0, 0), sigma), dtype=np.float32)
    # Wide blurs at reduced resolution: same result to within a grey level, 10x faster.
    f = int(sigma // 3)
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / f)
    return np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), np.float32)


def _masked_blur(img: F32, w: F32, sigma: float) -> F32:
    # Normalised convolution: averages field pixels only, so the black surround does not
    # darken the local average near the rim or the camera's cut edges.
    return np.asarray(_blur(img * w, sigma) / np.maximum(_blur(w, sigma), 1e-3), np.float32)


def _edge_bands(flags: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """True for the runs of flagged entries that start at either end."""
    from_start = np.cumprod(flags).astype(bool)
    from_end = np.cumprod(flags[::-1])[::-1].astype(bool)
    return bool_array(from_start | from_end)


def _padding_bands(crop: U8, inside: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """The black bands some cameras (or upstream tools) leave inside the circle where they
    cut it at the top and bottom (or sides): whole rows/columns of near-black pixels
    reaching the circle's edge. Vignetting never darkens a whole row, so it is kept."""
    bands = np.zeros_like(inside)
    if not inside.any():
        return bands
    green = crop[..., 1]
    top = float(np.percentile(green[inside], 99))
    dark = (green <= max(0.06 * top, 3.0)) & inside
    for axis in (1, 0):  # rows, then columns
        n_inside = inside.sum(axis=axis)
        idx = np.flatnonzero(n_inside)
        flagged = dark.sum(axis=axis)[idx] >= 0.9 * n_inside[idx]
        cut = idx[_edge_bands(flagged)]
        if axis == 1:
            bands[cut, :] = True
        else:
            bands[:, cut] = True
    return bands & inside


def normalise_colour(crop: U8, valid: U8, params: NormaliseParams = NormaliseParams()) -> U8:
    """Raw square crop -> the network's 3-channel uint8 input (see NormaliseParams)."""
    side = crop.shape[0]
    keep = (valid > 0) & circle_mask(side, params.mask_radius_fraction)
    green = np.ascontiguousarray(crop[..., 1:2].repeat(3, axis=2))
    eq = equalise_in_mask(green, keep)[..., 0].astype(np.float32)
    w = keep.astype(np.float32)
    fine = eq - _masked_blur(eq, w, max(params.fine_sigma_fraction * side, 0.8))
    coarse = eq - _masked_blur(eq, w, max(params.coarse_sigma_fraction * side, 1.0))
    out = np.stack(
        [eq, 128.0 + params.fine_gain * fine, 128.0 + params.coarse_gain * coarse], axis=2
    )
    out = np.where(keep[..., None], out, 128.0)
    return np.clip(out, 0, 255).astype(np.uint8)


def to_tensor_layout(images: U8) -> F32:
    """uint8 NHWC (or HWC) -> float32 NCHW in [-1, 1] (EfficientNet-Lite's input range)."""
    arr = images[None] if images.ndim == 3 else images
    return np.ascontiguousarray(((arr.astype(np.float32) - 128.0) / 128.0).transpose(0, 3, 1, 2))


@dataclass(frozen=True)
class Preprocessed:
    image: U8  # normalised uint8 RGB, side x side
    crop: U8  # the raw square crop (for overlays)
    valid: U8
    field: Field


def preprocess(
    rgb: U8,
    side: int,
    field_params: FieldParams = FieldParams(),
    norm_params: NormaliseParams = NormaliseParams(),
) -> Preprocessed:
    """Serving entry point: RGB uint8 (H, W, 3) -> normalised square crop."""
    crop = crop_to_field(rgb, side, field_params)
    return Preprocessed(
        image=normalise_colour(crop.image, crop.valid, norm_params),
        crop=crop.image,
        valid=crop.valid,
        field=crop.field,
    )
