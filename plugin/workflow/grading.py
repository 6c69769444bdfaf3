"""Grading with the cache: a result computed once for the same image bytes and the same
model (name + version) is reused; only the rest goes to the grader, in one batch.

The image layer's id, eye and content hash are authoritative: a cached result is relabelled
with them (the same photograph may arrive as another Media or another instance), and so is
a fresh one (the grader does not know which eye it looked at).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from models.grader.errors import GraderError
from models.grader.result import ImageGrading, PatientGrading
from plugin.imaging.results import RetrievedImage
from plugin.store.grading_cache import GradingCache
from plugin.workflow.errors import GraderUnavailable
from plugin.workflow.grader import Grader
from plugin.workflow.types import GradingOutcome, ImageProblem

log = logging.getLogger(__name__)

GradingObserver = Callable[[str, float, str], None]
"""observe(model label, seconds per image, outcome): e.g. Metrics.observe_grading."""


def grade_images(
    grader: Grader,
    images: Sequence[RetrievedImage],
    cache: GradingCache | None,
    observe: GradingObserver | None = None,
) -> GradingOutcome:
    model = grader.model
    results: dict[str, ImageGrading] = {}
    problems: list[ImageProblem] = []
    misses: list[RetrievedImage] = []
    for img in images:
        hit = cache.get(img.sha256, model, img.image_id) if cache is not None else None
        if hit is not None and hit.error is None:
            results[img.image_id] = _label(hit, img)
        else:
            misses.append(img)
    hits = len(results)
    started = time.perf_counter()
    fresh = _grade(grader, misses)
    per_image = (time.perf_counter() - started) / len(misses) if misses else 0.0
    for img, graded in zip(misses, fresh, strict=True):
        if observe is not None:
            outcome = "ok" if graded.error is None else "bad-image"
            observe(f"{model.name}-{model.version}", per_image, outcome)
        if graded.error is not None:
            problems.append(
                ImageProblem(
                    image_id=img.image_id,
                    source_ref=img.source_ref,
                    stage="grade",
                    code="bad-image",
                    reason=graded.error[:300],
                )
            )
            continue
        labelled = _label(graded, img)
        if cache is not None:
            cache.put(labelled)
        results[img.image_id] = labelled
    ordered = tuple(results[img.image_id] for img in images if img.image_id in results)
    grading = PatientGrading.from_images(list(ordered), model) if ordered else None
    return GradingOutcome(grading, ordered, tuple(problems), hits, len(misses))


def _grade(grader: Grader, images: Sequence[RetrievedImage]) -> list[ImageGrading]:
    if not images:
        return []
    try:
        graded = grader.grade(images)
    except GraderError as exc:
        if len(images) != 1:
            return [g for img in images for g in _grade(grader, [img])]
        return [ImageGrading(image_id=images[0].image_id, model=grader.model, error=str(exc))]
    if len(graded) != len(images):
        raise GraderUnavailable("the grader returned a different number of results")
    by_id = {g.image_id: g for g in graded}
    if len(by_id) == len(images) and set(by_id) == {img.image_id for img in images}:
        return [by_id[img.image_id] for img in images]
    return list(graded)  # ids not echoed: the grader's order is the input's


def _label(grading: ImageGrading, img: RetrievedImage) -> ImageGrading:
    """The grading with the image layer's id, eye and content hash, and the model as the
    grader said (a result is only ever compared with the same model's)."""
    return grading.model_copy(
        update={"image_id": img.image_id, "laterality": img.laterality, "sha256": img.sha256}
    )
