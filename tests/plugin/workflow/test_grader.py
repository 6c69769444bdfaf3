"""The grader adapter: bundle discovery errors, and the predictor contract (one result per
image, per-image errors kept, a broken model reported as GraderUnavailable)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.clinical_facts import ImageSourceKind
from models.grader.errors import BadImage, ModelUnavailable
from models.grader.result import ImageGrading, Laterality, ModelInfo, Quality
from plugin.imaging.results import RetrievedImage
from plugin.workflow import GraderUnavailable
from plugin.workflow.grader import PredictorGrader, load_grader

MODEL = ModelInfo(name="bundle", version="3")


def image(image_id: str, value: int) -> RetrievedImage:
    return RetrievedImage(
        image_id=image_id,
        source_ref="Media/1",
        source_kind=ImageSourceKind.MEDIA,
        laterality=Laterality.LEFT,
        laterality_source="bodySite",
        acquired=None,
        rgb=np.full((4, 4, 3), value, np.uint8),
        sha256=f"{value:064x}",
    )


class FakePredictor:
    """The predictor's calling convention: arrays + ids (+ eyes and hashes) in, one
    ImageGrading per array out; an array of zeros is 'not an image' (BadImage)."""

    model = MODEL

    def __init__(self, broken: bool = False) -> None:
        self.broken = broken
        self.batches: list[list[str]] = []

    def grade(
        self,
        images: Sequence[Any],
        image_ids: Sequence[str],
        lateralities: Sequence[Laterality],
        sha256s: Sequence[str | None],
    ) -> list[ImageGrading]:
        self.batches.append(list(image_ids))
        if self.broken:
            raise ModelUnavailable("inference failed (RuntimeError)")
        if any(int(a.max()) == 0 for a in images):
            raise BadImage("not an image")
        return [
            ImageGrading(
                image_id=i,
                laterality=lat,
                sha256=sha,
                quality=Quality(gradable=True, score=1.0),
                model=MODEL,
            )
            for i, lat, sha in zip(image_ids, lateralities, sha256s, strict=True)
        ]


def test_a_bad_image_in_a_batch_is_retried_alone() -> None:
    predictor = FakePredictor()
    grader = PredictorGrader(predictor)
    assert grader.model == MODEL
    out = grader.grade([image("a", 5), image("b", 0), image("c", 9)])
    assert predictor.batches == [["a", "b", "c"], ["a"], ["b"], ["c"]]
    assert [(g.image_id, g.error) for g in out] == [("a", None), ("b", "not an image"), ("c", None)]
    assert out[0].laterality == Laterality.LEFT and out[0].sha256 == f"{5:064x}"
    with pytest.raises(BadImage):  # alone, the error is the caller's to record
        grader.grade([image("b", 0)])
    assert grader.grade([]) == []


def test_a_broken_model_is_grader_unavailable() -> None:
    with pytest.raises(GraderUnavailable, match="inference failed"):
        PredictorGrader(FakePredictor(broken=True)).grade([image("a", 5)])
    with pytest.raises(GraderUnavailable, match="which model"):
        PredictorGrader(object())


def test_bundle_folders_that_cannot_be_loaded(tmp_path: Path) -> None:
    with pytest.raises(GraderUnavailable, match="no metadata.json"):
        load_grader(tmp_path)
    (tmp_path / "metadata.json").write_text('{"name": "x"}', encoding="utf-8")
    with pytest.raises(GraderUnavailable):  # invalid metadata (or no predictor in this build)
        load_grader(tmp_path)
