"""grade_images: the cache key is content + model, results carry the image layer's id, eye
and hash, and a grader that breaks the contract is refused."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from models.clinical_facts import ImageSourceKind
from models.grader.result import ImageGrading, Laterality
from plugin.imaging.results import RetrievedImage
from plugin.store import Store
from plugin.workflow import GraderUnavailable
from plugin.workflow.grading import grade_images


def image(image_id: str, red: int, eye: Laterality = Laterality.RIGHT) -> RetrievedImage:
    rgb = np.full((8, 8, 3), red, np.uint8)
    return RetrievedImage(
        image_id=image_id,
        source_ref=image_id,
        source_kind=ImageSourceKind.MEDIA,
        laterality=eye,
        laterality_source="bodySite",
        acquired=None,
        rgb=rgb,
        sha256=f"{red:064x}",
    )


def test_same_bytes_elsewhere_is_a_cache_hit_relabelled(kit: Any, store: Store) -> None:
    grader = kit.FakeGrader()
    first = grade_images(grader, [image("Media/1", 120)], store.grading_cache)
    again = grade_images(
        grader, [image("Media/2", 120, Laterality.LEFT), image("Media/3", 30)], store.grading_cache
    )
    assert (first.cache_hits, first.graded, again.cache_hits, again.graded) == (0, 1, 1, 1)
    assert grader.calls == [["Media/1"], ["Media/3"]]
    hit = again.images[0]
    assert (hit.image_id, hit.laterality, hit.sha256) == ("Media/2", Laterality.LEFT, f"{120:064x}")
    assert again.grading is not None
    assert [e.laterality for e in again.grading.eyes] == [Laterality.RIGHT, Laterality.LEFT]


def test_graded_images_are_observed_cached_ones_not(kit: Any, store: Store) -> None:
    seen: list[tuple[str, str]] = []

    def observe(model: str, seconds: float, outcome: str) -> None:
        assert seconds >= 0
        seen.append((model, outcome))

    grader = kit.FakeGrader()
    grade_images(grader, [image("Media/1", 120), image("Media/2", 0)], store.grading_cache, observe)
    grade_images(grader, [image("Media/1", 120)], store.grading_cache, observe)
    assert seen == [("fake-grader-1.0", "ok"), ("fake-grader-1.0", "bad-image")]


def test_without_a_cache_everything_is_graded(kit: Any) -> None:
    grader = kit.FakeGrader()
    grade_images(grader, [image("Media/1", 120)], None)
    out = grade_images(grader, [image("Media/1", 120)], None)
    assert (out.cache_hits, out.graded, grader.graded_count) == (0, 1, 2)


class _Reordering:
    """Answers in reverse order, echoing ids (the workflow must match by id)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model = inner.model

    def grade(self, images: Sequence[RetrievedImage]) -> list[ImageGrading]:
        return list(reversed(self.inner.grade(images)))


class _Short(_Reordering):
    def grade(self, images: Sequence[RetrievedImage]) -> list[ImageGrading]:
        return self.inner.grade(images)[:-1]


def test_results_are_matched_by_id_and_a_short_answer_is_refused(kit: Any) -> None:
    out = grade_images(
        _Reordering(kit.FakeGrader()), [image("Media/1", 250), image("Media/2", 10)], None
    )
    grades = {g.image_id: g.dr_grade.grade for g in out.images if g.dr_grade}
    assert grades == {"Media/1": 4, "Media/2": 0}
    with pytest.raises(GraderUnavailable):
        grade_images(_Short(kit.FakeGrader()), [image("Media/1", 250), image("Media/2", 9)], None)
