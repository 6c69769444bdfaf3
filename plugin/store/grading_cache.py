"""Grading cache: image content hash + model name + model version -> grader result.

CDS Hooks calls re-grade the same photographs on every chart opening; the result of a
deterministic model on the same bytes does not change, so it is computed once.
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import ValidationError

from models.grader.result import ImageGrading, ModelInfo
from plugin.store.clock import Clock, to_ms, utc_now
from plugin.store.database import Database
from plugin.store.jsontext import canonical_json
from plugin.store.purge import purge_rows

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class GradingCache:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    def get(
        self, image_sha256: str, model: ModelInfo, image_id: str | None = None
    ) -> ImageGrading | None:
        """The cached result, relabelled with `image_id` when given (the same bytes may
        arrive as another Media/instance). None on a miss or an entry this code's result
        type no longer reads (it is then re-graded and overwritten)."""
        with self._db.read() as tx:
            row = tx.fetchone(
                "SELECT result FROM grading_cache"
                " WHERE image_sha256 = ? AND model_name = ? AND model_version = ?",
                (_checked_sha(image_sha256), model.name, model.version),
            )
        if row is None:
            return None
        try:
            grading = ImageGrading.model_validate_json(row["result"])
        except ValidationError:
            return None
        return grading.model_copy(update={"image_id": image_id}) if image_id else grading

    def put(self, grading: ImageGrading) -> None:
        """Stores a successful grading. Results with `error` set are not cached: a read
        failure may be transient. An existing entry is replaced: the same model on the
        same bytes gives the same result, and replacing heals an entry `get` could not
        read."""
        if grading.error is not None:
            raise ValueError("failed gradings are not cached")
        if grading.sha256 is None:
            raise ValueError("grading has no image sha256 to key the cache")
        text = canonical_json(grading.model_dump(mode="json"))
        with self._db.transaction() as tx:
            tx.execute(
                "INSERT INTO grading_cache"
                " (image_sha256, model_name, model_version, result, created_ms)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (image_sha256, model_name, model_version)"
                " DO UPDATE SET result = excluded.result, created_ms = excluded.created_ms",
                (
                    _checked_sha(grading.sha256),
                    grading.model.name,
                    grading.model.version,
                    text,
                    to_ms(self._clock()),
                ),
            )

    def purge_older_than(self, cutoff: datetime, *, dry_run: bool = False) -> int:
        """Deletes results stored before `cutoff`; `dry_run` counts them instead."""
        return purge_rows(
            self._db,
            "grading_cache",
            ("image_sha256", "model_name", "model_version"),
            "created_ms < ?",
            (to_ms(cutoff),),
            dry_run=dry_run,
        )


def _checked_sha(value: str) -> str:
    if not _SHA256.match(value):
        raise ValueError("image sha256 must be 64 lowercase hex digits")
    return value
