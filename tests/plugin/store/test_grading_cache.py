"""Grading cache: keyed by image bytes + model name + model version."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from models.grader.result import DrGrade, ImageGrading, ModelInfo, Quality
from plugin.store import Store

MODEL = ModelInfo(name="deepdr-ref", version="1.2.0")
SHA = hashlib.sha256(b"fundus image bytes").hexdigest()


def _grading(sha: str | None = SHA, model: ModelInfo = MODEL, grade: int = 2) -> ImageGrading:
    probs = [0.05, 0.05, 0.05, 0.05, 0.05]
    probs[grade] = 0.8
    return ImageGrading(
        image_id="Media/1",
        quality=Quality(gradable=True, score=0.91),
        dr_grade=DrGrade(
            probabilities=(probs[0], probs[1], probs[2], probs[3], probs[4]), grade=grade
        ),
        model=model,
        sha256=sha,
    )


def test_miss_then_hit_relabelled_for_the_new_image(store: Store) -> None:
    cache = store.grading_cache
    assert cache.get(SHA, MODEL) is None
    cache.put(_grading())
    hit = cache.get(SHA, MODEL, image_id="Media/2")
    assert hit is not None
    assert hit.image_id == "Media/2"
    assert hit.model_copy(update={"image_id": "Media/1"}) == _grading()
    assert cache.get(SHA, MODEL) == _grading()


def test_other_model_version_or_image_is_a_miss(store: Store) -> None:
    store.grading_cache.put(_grading())
    assert store.grading_cache.get(SHA, ModelInfo(name="deepdr-ref", version="1.3.0")) is None
    assert store.grading_cache.get(SHA, ModelInfo(name="other", version="1.2.0")) is None
    assert store.grading_cache.get(hashlib.sha256(b"other").hexdigest(), MODEL) is None


def test_put_replaces_an_entry(store: Store) -> None:
    store.grading_cache.put(_grading(grade=1))
    store.grading_cache.put(_grading(grade=3))
    hit = store.grading_cache.get(SHA, MODEL)
    assert hit is not None and hit.dr_grade is not None and hit.dr_grade.grade == 3


def test_unreadable_entry_is_a_miss_and_healed_by_put(store: Store) -> None:
    with store.db.transaction() as tx:
        tx.execute(
            "INSERT INTO grading_cache VALUES (?, ?, ?, ?, ?)",
            (SHA, MODEL.name, MODEL.version, '{"written_by": "an older schema"}', 0),
        )
    assert store.grading_cache.get(SHA, MODEL) is None
    store.grading_cache.put(_grading())
    assert store.grading_cache.get(SHA, MODEL) == _grading()


def test_failed_or_unkeyed_gradings_are_not_cached(store: Store) -> None:
    with pytest.raises(ValueError, match="not cached"):
        store.grading_cache.put(
            ImageGrading(image_id="Media/1", model=MODEL, error="unreadable", sha256=SHA)
        )
    with pytest.raises(ValueError, match="sha256"):
        store.grading_cache.put(_grading(sha=None))
    with pytest.raises(ValueError, match="hex"):
        store.grading_cache.get("ABC", MODEL)


def test_purge_older_than(store: Store, clock) -> None:
    store.grading_cache.put(_grading())
    clock.advance(days=40)
    newer = hashlib.sha256(b"newer").hexdigest()
    store.grading_cache.put(_grading(sha=newer))
    assert store.grading_cache.purge_older_than(clock() - timedelta(days=30)) == 1
    assert store.grading_cache.get(SHA, MODEL) is None
    assert store.grading_cache.get(newer, MODEL) is not None
