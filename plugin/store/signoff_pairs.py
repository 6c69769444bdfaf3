"""Sign-off pairs: the advice draft the model wrote and the text the clinician signed.

Kept for evaluating the advice model and fine-tuning it (exported as JSONL by
`deepdr-fhir advice export-pairs`). The patient appears only as a keyed hash of the FHIR
reference (`pseudonymize_ref`), enough to group pairs per patient, not to find them.
`pair_id` is the caller's stable id of the sign-off (e.g. the CarePlan id and version), so a
retried sign-off is stored once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from plugin.store.clock import Clock, from_ms, to_ms, utc_now
from plugin.store.database import Database, Row
from plugin.store.jsontext import canonical_json
from plugin.store.purge import purge_rows


@dataclass(frozen=True)
class SignoffPair:
    pair_id: str
    lang: str
    engine: str
    model: str
    draft: str
    signed: str
    facts: dict[str, Any] | None = None
    patient_ref_hash: str | None = None
    created_at: datetime | None = None  # set by the store

    def export_record(self) -> dict[str, Any]:
        """One JSONL line's object."""
        record = asdict(self)
        record["created_at"] = self.created_at.isoformat() if self.created_at else None
        return record


def pseudonymize_ref(reference: str, key: bytes) -> str:
    """HMAC-SHA256 of a FHIR reference: a plain hash of `Patient/123` is reversed by
    hashing every id; a keyed one is not, without the key."""
    if len(key) < 16:
        raise ValueError("pseudonymisation key must be at least 16 bytes")
    return hmac.new(key, reference.encode("utf-8"), hashlib.sha256).hexdigest()


class SignoffPairStore:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    def add(self, pair: SignoffPair) -> bool:
        """Stores the pair; False when `pair_id` was stored before (the first one stays)."""
        for name in ("pair_id", "lang", "engine", "model"):
            if not getattr(pair, name):
                raise ValueError(f"sign-off pair needs a {name}")
        with self._db.transaction() as tx:
            stored = tx.execute(
                "INSERT INTO signoff_pairs (pair_id, lang, engine, model, draft, signed, facts,"
                " patient_ref_hash, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (pair_id) DO NOTHING",
                (
                    pair.pair_id,
                    pair.lang,
                    pair.engine,
                    pair.model,
                    pair.draft,
                    pair.signed,
                    canonical_json(pair.facts) if pair.facts is not None else None,
                    pair.patient_ref_hash,
                    to_ms(self._clock()),
                ),
            )
        return stored == 1

    def get(self, pair_id: str) -> SignoffPair | None:
        with self._db.read() as tx:
            row = tx.fetchone("SELECT * FROM signoff_pairs WHERE pair_id = ?", (pair_id,))
        return _pair(row) if row else None

    def iter_pairs(
        self, since: datetime | None = None, page_size: int = 500
    ) -> Iterator[SignoffPair]:
        """All pairs created at or after `since`, oldest first, read a page at a time (keyset
        pagination, so an export neither holds everything in memory nor skips rows)."""
        after: tuple[int, str] | None = None
        since_ms = to_ms(since) if since else 0
        params: tuple[Any, ...]
        while True:
            if after is None:
                where, params = "created_ms >= ?", (since_ms,)
            else:
                where = "created_ms > ? OR (created_ms = ? AND pair_id > ?)"
                params = (after[0], after[0], after[1])
            with self._db.read() as tx:
                rows = tx.fetchall(
                    f"SELECT * FROM signoff_pairs WHERE {where}"
                    " ORDER BY created_ms, pair_id LIMIT ?",
                    (*params, page_size),
                )
            yield from (_pair(r) for r in rows)
            if len(rows) < page_size:
                return
            after = (int(rows[-1]["created_ms"]), str(rows[-1]["pair_id"]))

    def count(self) -> int:
        with self._db.read() as tx:
            row = tx.fetchone("SELECT COUNT(*) AS n FROM signoff_pairs")
        return int(row["n"]) if row else 0

    def purge_older_than(self, cutoff: datetime, *, dry_run: bool = False) -> int:
        """Deletes pairs stored before `cutoff`; `dry_run` counts them instead. Export them
        first (`deepdr-fhir advice export-pairs`) if they may still train a model."""
        return purge_rows(
            self._db,
            "signoff_pairs",
            ("pair_id",),
            "created_ms < ?",
            (to_ms(cutoff),),
            dry_run=dry_run,
        )


def _pair(row: Row) -> SignoffPair:
    return SignoffPair(
        pair_id=row["pair_id"],
        lang=row["lang"],
        engine=row["engine"],
        model=row["model"],
        draft=row["draft"],
        signed=row["signed"],
        facts=json.loads(row["facts"]) if row["facts"] is not None else None,
        patient_ref_hash=row["patient_ref_hash"],
        created_at=from_ms(int(row["created_ms"])),
    )
