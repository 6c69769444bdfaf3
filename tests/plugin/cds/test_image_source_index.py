"""The image source index (plugin.store.image_sources, migration 0003) on SQLite and on a
real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from plugin.store import open_store
from plugin.store.image_sources import (
    ImageSourceIndex,
    IndexedFailure,
    IndexedImage,
    IndexedSource,
)

KEY_A, KEY_B, KEY_C = "a" * 64, "b" * 64, "c" * 64
SHA = "d" * 64


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def index(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[ImageSourceIndex, Clock, object]]:
    url = (
        f"sqlite:///{tmp_path}/store.sqlite3"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_dsn")
    )
    clock = Clock()
    with open_store(url, clock=clock) as store:
        yield ImageSourceIndex(store.db, clock), clock, store


def test_round_trip_and_replace(index: tuple[ImageSourceIndex, Clock, object]) -> None:
    repo, _, _ = index
    source = IndexedSource(
        KEY_A,
        "Media/5",
        images=(IndexedImage("Media/5", SHA, "right", date(2026, 2, 20)),),
        failures=(IndexedFailure("DocumentReference/7#1", "corrupt", "cannot decode"),),
    )
    repo.put(source)
    assert repo.get_many([KEY_A, KEY_B]) == {KEY_A: source}
    replaced = IndexedSource(KEY_A, "Media/5", images=(IndexedImage("Media/5", SHA),))
    repo.put(replaced)
    assert repo.get(KEY_A) == replaced
    assert repo.get(KEY_B) is None


def test_many_keys_at_once(index: tuple[ImageSourceIndex, Clock, object]) -> None:
    repo, _, _ = index
    keys = [f"{i:064x}" for i in range(450)]  # more than one query's worth
    for key in keys[::3]:
        repo.put(IndexedSource(key, "Media/x", images=(IndexedImage("Media/x", SHA),)))
    assert set(repo.get_many(keys)) == set(keys[::3])


def test_purge_and_refusals(index: tuple[ImageSourceIndex, Clock, object]) -> None:
    repo, clock, _ = index
    repo.put(IndexedSource(KEY_A, "Media/1"))
    clock.now += timedelta(days=10)
    repo.put(IndexedSource(KEY_B, "Media/2"))
    assert repo.purge_older_than(clock.now - timedelta(days=1)) == 1
    assert set(repo.get_many([KEY_A, KEY_B])) == {KEY_B}
    with pytest.raises(ValueError):
        repo.get("Media/1")  # not a key
    with pytest.raises(ValueError):
        repo.put(IndexedSource(KEY_C, "Media/3", images=(IndexedImage("Media/3", "nope"),)))


def test_a_row_this_code_cannot_read_is_a_miss(
    index: tuple[ImageSourceIndex, Clock, object],
) -> None:
    repo, _, store = index
    with store.db.transaction() as tx:  # type: ignore[attr-defined]
        tx.execute(
            "INSERT INTO cds_image_sources (source_key, source_ref, images, failures, created_ms)"
            " VALUES (?, ?, ?, ?, ?)",
            (KEY_C, "Media/9", '[{"no": "fields"}]', "[]", 0),
        )
    assert repo.get(KEY_C) is None
