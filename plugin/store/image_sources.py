"""Image source index for the CDS service: a source's identity -> its images' content hashes.

    index = ImageSourceIndex(store.db, store.clock)
    index.put(IndexedSource(key, "Media/5", images=(IndexedImage("Media/5", sha, "right"),)))
    index.get_many([key1, key2])            # {key: IndexedSource} for the keys known

The key (computed by the caller, plugin.cds.sources) hashes the FHIR base, the source
reference and its version, so a source whose content may have changed is simply a new key.
Rows hold references, hashes, eyes and dates only. `put` replaces: the same key always
describes the same bytes, and replacing heals a row written by an older version.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from plugin.store.clock import Clock, to_ms, utc_now
from plugin.store.database import Database, Row
from plugin.store.jsontext import canonical_json
from plugin.store.purge import purge_rows

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MAX_KEYS_PER_QUERY = 200


@dataclass(frozen=True)
class IndexedImage:
    image_id: str
    sha256: str
    laterality: str = "unknown"
    acquired: date | None = None


@dataclass(frozen=True)
class IndexedFailure:
    """An image of the source that cannot be read as it is (corrupt, not an image)."""

    image_id: str
    code: str
    reason: str


@dataclass(frozen=True)
class IndexedSource:
    source_key: str
    source_ref: str
    images: tuple[IndexedImage, ...] = ()
    failures: tuple[IndexedFailure, ...] = ()


class ImageSourceIndex:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    def get_many(self, keys: Iterable[str]) -> dict[str, IndexedSource]:
        wanted = sorted({_checked_key(k) for k in keys})
        found: dict[str, IndexedSource] = {}
        for start in range(0, len(wanted), _MAX_KEYS_PER_QUERY):
            chunk = wanted[start : start + _MAX_KEYS_PER_QUERY]
            marks = ", ".join("?" for _ in chunk)
            with self._db.read() as tx:
                rows = tx.fetchall(
                    f"SELECT * FROM cds_image_sources WHERE source_key IN ({marks})", chunk
                )
            for row in rows:
                source = _source(row)
                if source is not None:
                    found[source.source_key] = source
        return found

    def get(self, key: str) -> IndexedSource | None:
        return self.get_many([key]).get(key)

    def put(self, source: IndexedSource) -> None:
        _check(source)
        images = [
            {
                "image_id": i.image_id,
                "sha256": i.sha256,
                "laterality": i.laterality,
                "acquired": i.acquired.isoformat() if i.acquired else None,
            }
            for i in source.images
        ]
        failures = [
            {"image_id": f.image_id, "code": f.code, "reason": f.reason} for f in source.failures
        ]
        with self._db.transaction() as tx:
            tx.execute(
                "INSERT INTO cds_image_sources"
                " (source_key, source_ref, images, failures, created_ms) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (source_key) DO UPDATE SET source_ref = excluded.source_ref,"
                " images = excluded.images, failures = excluded.failures,"
                " created_ms = excluded.created_ms",
                (
                    source.source_key,
                    source.source_ref,
                    canonical_json(images),
                    canonical_json(failures),
                    to_ms(self._clock()),
                ),
            )

    def purge_older_than(self, cutoff: datetime, *, dry_run: bool = False) -> int:
        """Deletes sources indexed before `cutoff`; `dry_run` counts them instead."""
        return purge_rows(
            self._db,
            "cds_image_sources",
            ("source_key",),
            "created_ms < ?",
            (to_ms(cutoff),),
            dry_run=dry_run,
        )


def _checked_key(key: str) -> str:
    if not _SHA256.match(key):
        raise ValueError("an image source key must be 64 lowercase hex digits")
    return key


def _check(source: IndexedSource) -> None:
    _checked_key(source.source_key)
    if not source.source_ref:
        raise ValueError("an indexed image source needs its reference")
    for image in source.images:
        if not _SHA256.match(image.sha256):
            raise ValueError("image sha256 must be 64 lowercase hex digits")
        if not image.image_id:
            raise ValueError("an indexed image needs its id")


def _source(row: Row) -> IndexedSource | None:
    """The row as an IndexedSource; None for a row this code cannot read (re-fetched)."""
    try:
        images: Sequence[dict[str, str | None]] = json.loads(row["images"])
        failures: Sequence[dict[str, str]] = json.loads(row["failures"])
        return IndexedSource(
            source_key=row["source_key"],
            source_ref=row["source_ref"],
            images=tuple(
                IndexedImage(
                    image_id=str(i["image_id"]),
                    sha256=str(i["sha256"]),
                    laterality=str(i.get("laterality") or "unknown"),
                    acquired=date.fromisoformat(a) if (a := i.get("acquired")) else None,
                )
                for i in images
            ),
            failures=tuple(
                IndexedFailure(str(f["image_id"]), str(f["code"]), str(f["reason"]))
                for f in failures
            ),
        )
    except (ValueError, KeyError, TypeError):
        return None
