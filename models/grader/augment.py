"""Augmentations on the raw square crop (before colour normalisation), so they mimic what
other cameras and operators do: rotation, zoom, cut circles, exposure, uneven
illumination, blur, low resolution, sensor noise, JPEG. `degrade` makes an image
ungradable on purpose (the quality head's negatives); its ranges do not overlap the
mild ones."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from models.grader.config import AugmentConfig

U8 = NDArray[np.uint8]


@dataclass
class Sample:
    image: U8  # (S, S, 3) raw crop
    valid: U8  # (S, S) 0/1
    masks: U8 | None  # (4, S, S) lesion coverage 0-255, or None


def _warp(arr: U8, m: NDArray[np.float64], side: int, nearest: bool) -> U8:
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.warpAffine(  # type: ignore[return-value]
        arr, m, (side, side), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def geometric(s: Sample, cfg: AugmentConfig, rng: np.random.Generator) -> Sample:
    side = s.image.shape[0]
    angle = float(rng.uniform(0, 360)) if cfg.rotate else 0.0
    scale = float(rng.uniform(*cfg.scale))
    m: NDArray[np.float64] = cv2.getRotationMatrix2D(  # type: ignore[assignment]
        ((side - 1) / 2, (side - 1) / 2), angle, scale
    )
    m[:, 2] += rng.uniform(-cfg.shift, cfg.shift, size=2) * side
    if cfg.flip and rng.random() < 0.5:
        m[0] = -m[0]
        m[0, 2] += side - 1
    image = _warp(s.image, m, side, nearest=False)
    valid = _warp(s.valid, m, side, nearest=True)
    masks = None
    if s.masks is not None:
        masks = np.stack([_warp(k, m, side, nearest=False) for k in s.masks])
    if rng.random() < cfg.cut_circle_p:  # a 4:3 frame that cuts the circle top and bottom
        cut = int(rng.uniform(0.04, 0.16) * side)
        for arr in (image, valid):
            arr[:cut] = 0
            arr[side - cut :] = 0
    return Sample(image=image, valid=valid, masks=masks)


def _illumination(
    shape: tuple[int, ...], rng: np.random.Generator, low: float, high: float
) -> NDArray[np.float32]:
    """A smooth random gain field over an image of `shape` (from a 3x3 grid)."""
    grid = rng.uniform(low, high, size=(3, 3)).astype(np.float32)
    h, w = shape[:2]
    return np.asarray(cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC), np.float32)


def photometric(image: U8, cfg: AugmentConfig, rng: np.random.Generator) -> U8:
    side = image.shape[0]
    gamma = rng.uniform(*cfg.gamma, size=3)
    gain = rng.uniform(*cfg.gain) * rng.uniform(0.85, 1.15, size=3)
    levels = np.arange(256, dtype=np.float64) / 255.0
    lut = np.stack([np.clip(255.0 * gain[c] * levels ** gamma[c], 0, 255) for c in range(3)], 1)
    x = cv2.LUT(image, lut.astype(np.uint8)[None]).astype(np.float32)
    if rng.random() < cfg.illumination_p:
        x *= _illumination(image.shape, rng, 0.6, 1.3)[..., None]
        x = np.clip(x, 0, 255)
    if rng.random() < cfg.blur_p:
        x = np.asarray(cv2.GaussianBlur(x, (0, 0), float(rng.uniform(*cfg.blur_sigma))), np.float32)
    if rng.random() < cfg.resample_p:
        small = max(16, int(side * rng.uniform(0.5, 0.85)))
        x = cv2.resize(  # type: ignore[assignment]
            cv2.resize(x, (small, small), interpolation=cv2.INTER_AREA),
            (side, side),
            interpolation=cv2.INTER_LINEAR,
        )
    if rng.random() < cfg.noise_p:
        x = x + np.asarray(rng.normal(0, rng.uniform(*cfg.noise_sigma), size=x.shape), np.float32)
    out = np.clip(x, 0, 255).astype(np.uint8)
    if rng.random() < cfg.jpeg_p:
        out = jpeg(out, int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1)))
    return out


def jpeg(image: U8, quality: int) -> U8:
    ok, buf = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        return image
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if decoded is None:
        return image
    return np.ascontiguousarray(np.asarray(decoded, np.uint8)[..., ::-1])


DEGRADATIONS: tuple[str, ...] = ("defocus", "dark", "overexposed", "haze", "shadow", "lowres")


def degrade(image: U8, valid: U8, kind: str, rng: np.random.Generator) -> U8:
    """Severe, ungradable versions of a fundus crop (what a grader would send back)."""
    h, w = image.shape[:2]
    side = min(h, w)  # the field's diameter in a square crop
    x = image.astype(np.float32)
    if kind == "defocus":
        x = np.asarray(
            cv2.GaussianBlur(x, (0, 0), float(rng.uniform(0.012, 0.03) * side)), np.float32
        )
    elif kind == "dark":
        x = x * float(rng.uniform(0.015, 0.05))
        x = x + rng.normal(0, rng.uniform(1.5, 4.0), size=x.shape).astype(np.float32)
    elif kind == "overexposed":
        x = x * float(rng.uniform(3.0, 6.0)) + float(rng.uniform(40, 120))
    elif kind == "haze":  # cataract / media opacity: a bright veil that hides detail
        veil = float(rng.uniform(0.65, 0.9))
        blur = float(rng.uniform(0.01, 0.02) * side)
        x = cv2.GaussianBlur(x, (0, 0), blur) * (1 - veil) + veil * rng.uniform(150, 230)
    elif kind == "shadow":  # eyelid / eyelash / small pupil: most of the field dark
        cover = _illumination(image.shape, rng, -2.5, 1.2)
        x = x * np.clip(cover, 0.02, 1.0)[..., None]
    elif kind == "lowres":
        small = int(rng.integers(14, 28))
        x = cv2.resize(  # type: ignore[assignment]
            cv2.resize(x, (small, small), interpolation=cv2.INTER_AREA),
            (w, h),
            interpolation=cv2.INTER_LINEAR,
        )
    else:
        raise ValueError(kind)
    x = np.where(valid[..., None] > 0, x, 0.0)
    return np.clip(x, 0, 255).astype(np.uint8)
