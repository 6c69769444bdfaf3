"""A deterministic stand-in for the grader model in browser tests (the project's predictor
and bundle are built elsewhere; these tests are about the app, not the model). It derives
its result from the pixels: the share of dark-red pixels inside the fundus decides the grade,
and the lesion map is where those pixels are, so the overlay is real and checkable."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models.grader.result import (
    BinaryFinding,
    DrGrade,
    ImageGrading,
    LesionFinding,
    ModelInfo,
    Quality,
)
from plugin.imaging.results import RetrievedImage
from plugin.smart_app.images import field_crop

MODEL = ModelInfo(name="e2e-stub-grader", version="1.0.0")
MAP_SIDE = 16


class StubGrader:
    model = MODEL

    def __init__(self) -> None:
        self.calls = 0

    def grade(self, images: Sequence[RetrievedImage]) -> list[ImageGrading]:
        self.calls += 1
        return [self._one(img) for img in images]

    def _one(self, img: RetrievedImage) -> ImageGrading:
        crop = field_crop(img.rgb, 256)[0].astype(np.int16)  # what the page shows
        if crop.shape[:2] != (256, 256):
            crop = np.zeros((256, 256, 3), np.int16)
        red = (crop[..., 0] > 80) & (crop[..., 0] < 140) & (crop[..., 1] < 45)
        share = float(red.mean())
        grade = 2 if share > 0.004 else 0
        probs = [0.02] * 5
        probs[grade] = 0.92
        blocks = red.reshape(MAP_SIDE, 256 // MAP_SIDE, MAP_SIDE, 256 // MAP_SIDE).mean(axis=(1, 3))
        lesion_map = np.clip(blocks * 8, 0, 1)
        ma_p = min(0.97, 0.05 + share * 60)
        return ImageGrading(
            image_id=img.image_id,
            laterality=img.laterality,
            quality=Quality(gradable=True, score=0.91),
            dr_grade=DrGrade(
                probabilities=(probs[0], probs[1], probs[2], probs[3], probs[4]), grade=grade
            ),
            referable=BinaryFinding(
                probability=0.86 if grade >= 2 else 0.07, positive=grade >= 2, threshold=0.5
            ),
            dme=BinaryFinding(probability=0.12, positive=False, threshold=0.5),
            lesions={
                "MA": LesionFinding(
                    probability=round(ma_p, 3),
                    present=ma_p >= 0.5,
                    map=tuple(tuple(float(v) for v in row) for row in lesion_map),
                ),
                "HE": LesionFinding(probability=0.2 if grade else 0.04, present=False),
                "EX": LesionFinding(probability=0.05, present=False),
                "SE": LesionFinding(probability=0.03, present=False),
            },
            model=MODEL,
            sha256=img.sha256,
        )
