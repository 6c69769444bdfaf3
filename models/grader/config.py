"""Typed training configuration: one object per recipe (CPU and GPU), saved with each run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

REPO_ROOT = Path(__file__).resolve().parents[2]


def default_data_dir() -> Path:
    """Shared data folder: $DEEPDR_DATA_DIR, else ../shared/data next to the repository."""
    env = os.environ.get("DEEPDR_DATA_DIR")
    return Path(env) if env else (REPO_ROOT.parent / "shared" / "data")


class LossWeights(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    grade_ce: float = 1.0
    grade_emd: float = 1.0  # squared earth mover's distance between CDFs: the ordinal term
    referable: float = 1.0
    dme: float = 0.5
    lesion_presence: float = 0.3
    lesion_map: float = 1.0
    quality: float = 0.3


class AugmentConfig(BaseModel):
    """Augmentations on the raw crop, before colour normalisation (so they mimic cameras)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rotate: bool = True
    flip: bool = True
    scale: tuple[float, float] = (0.92, 1.10)
    shift: float = 0.03
    cut_circle_p: float = 0.3  # camera frames that cut the circle top/bottom
    gamma: tuple[float, float] = (0.6, 1.6)
    gain: tuple[float, float] = (0.5, 1.5)
    illumination_p: float = 0.5  # smooth uneven illumination / vignetting
    blur_p: float = 0.3
    blur_sigma: tuple[float, float] = (0.3, 1.2)
    resample_p: float = 0.3  # down- then up-sampling (low-resolution cameras)
    noise_p: float = 0.3
    noise_sigma: tuple[float, float] = (1.0, 6.0)
    jpeg_p: float = 0.3
    jpeg_quality: tuple[int, int] = (35, 90)
    degrade_p: float = 0.12  # severe synthetic degradation -> ungradable (quality head)


class TrainConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    backbone: Literal["efficientnet-lite0", "efficientnet-lite2"] = "efficientnet-lite0"
    input_size: int = Field(default=256, ge=64, le=1024)
    frozen_blocks: int = Field(default=0, ge=-1, le=16)  # -1: nothing frozen; 0: stem only
    epochs: int = Field(default=12, ge=1)
    samples_per_epoch: int = Field(default=4000, ge=1)
    batch_size: int = 32
    lr: float = 6e-4
    head_lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 60
    ema_decay: float = 0.995
    label_smoothing: float = 0.05
    dropout: float = 0.3
    seed: int = 20261122
    threads: int = 2
    workers: int = 0  # 2 cores: a worker would only steal CPU from the training threads
    # Sampling: per-grade weight ~ frequency^-power; per-source multipliers.
    grade_balance_power: float = 0.5
    source_weight: dict[str, float] = Field(
        default_factory=lambda: {"eyepacs": 1.0, "srahim": 3.0, "idrid": 4.0}
    )
    losses: LossWeights = LossWeights()
    augment: AugmentConfig = AugmentConfig()
    full_eval_every: int = 3  # EyePACS valid (750 images) every n epochs and at the end
    limit_images: int | None = None  # smoke runs: use only this many training images


RECIPES: dict[str, TrainConfig] = {
    # 2 shared CPU cores, under 2 hours: EfficientNet-Lite0 at the EyePACS-eq256 native size.
    # Stem + first 3 blocks frozen: their backward pass is most of the cost at full
    # resolution, and generic edge filters need little adaptation. 10 epochs (about 40 min on
    # a quiet machine): valid AUC/kappa still rose from epoch 7 (bundle 1.0.0) to 10 (1.1.0).
    "cpu": TrainConfig(name="cpu", frozen_blocks=3, epochs=10, samples_per_epoch=3200),
    # One GPU: larger input and backbone, more epochs, bigger batches, nothing frozen.
    "gpu": TrainConfig(
        name="gpu",
        backbone="efficientnet-lite2",
        input_size=384,
        frozen_blocks=-1,
        epochs=40,
        samples_per_epoch=8000,
        batch_size=64,
        lr=1e-3,
        head_lr=3e-3,
        warmup_steps=300,
        ema_decay=0.999,
        threads=16,
        workers=8,
    ),
    # Seconds, not hours: the test suite's 1-step training + export.
    "smoke": TrainConfig(
        name="smoke",
        input_size=64,
        epochs=1,
        samples_per_epoch=4,
        batch_size=4,
        warmup_steps=1,
        workers=0,
        limit_images=8,
    ),
}
