"""Classical image-quality features on the raw square crop (before colour normalisation,
which hides exposure problems from the network): exposure and focus. The bundle's
QualityGate holds the thresholds; the network's quality output does the rest."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from models.grader.preprocess import circle_mask


@dataclass(frozen=True)
class QualityFeatures:
    field_luma: float  # mean luma inside the field, 0-255
    dark_fraction: float  # field pixels with luma < 10
    saturated_fraction: float  # field pixels with luma > 250
    sharpness: float  # std of the Laplacian of green / std of green, inside the field


def quality_features(crop: NDArray[np.uint8], valid: NDArray[np.uint8]) -> QualityFeatures:
    side = crop.shape[0]
    keep = (valid > 0) & circle_mask(side, 0.9)
    if keep.sum() < 64:
        return QualityFeatures(0.0, 1.0, 0.0, 0.0)
    rgb = crop.astype(np.float32)
    luma = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    field = luma[keep]
    green = rgb[..., 1]
    lap = np.asarray(cv2.Laplacian(green, cv2.CV_32F, ksize=3), np.float32)
    inner = cv2.erode(keep.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    g_std = float(green[inner].std()) if inner.any() else 0.0
    sharp = float(lap[inner].std()) / max(g_std, 1.0) if inner.any() else 0.0
    return QualityFeatures(
        field_luma=float(field.mean()),
        dark_fraction=float((field < 10).mean()),
        saturated_fraction=float((field > 250).mean()),
        sharpness=sharp,
    )
