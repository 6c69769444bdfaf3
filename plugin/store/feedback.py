"""CDS Hooks feedback (`POST {baseUrl}/cds-services/{id}/feedback`), one row per item.

Implements cds_hooks.service.FeedbackStore by duck typing:
    record(service_id: str, item: Feedback, issuer: str | None) -> bool   # True when new

EHRs resend; an item with the same service, card, outcome and outcomeTimestamp is stored
once (cds_hooks.service.feedback_identity), atomically across workers through the key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from plugin.store.clock import Clock, from_ms, to_ms, utc_now
from plugin.store.database import Database, Row
from plugin.store.jsontext import canonical_json
from plugin.store.purge import purge_rows


class FeedbackItem(Protocol):
    """What the store reads of cds_hooks.models.Feedback."""

    @property
    def card(self) -> str: ...

    @property
    def outcome(self) -> str: ...

    @property
    def outcome_timestamp(self) -> datetime: ...

    def model_dump(self, *, mode: str, by_alias: bool, exclude_none: bool) -> dict[str, Any]: ...


@dataclass(frozen=True)
class FeedbackRecord:
    service_id: str
    card: str
    outcome: str
    outcome_timestamp: datetime
    item: dict[str, Any]  # the item as received (camelCase wire form)
    issuer: str | None
    received_at: datetime


class FeedbackStore:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    def record(self, service_id: str, item: FeedbackItem, issuer: str | None = None) -> bool:
        """Stores one validated feedback item; False when it was stored before."""
        if not service_id or not item.card:
            raise ValueError("feedback needs a service id and a card uuid")
        body = canonical_json(item.model_dump(mode="json", by_alias=True, exclude_none=True))
        with self._db.transaction() as tx:
            stored = tx.execute(
                "INSERT INTO cds_feedback (service_id, card_uuid, outcome, outcome_timestamp,"
                " item, issuer, received_ms) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (service_id, card_uuid, outcome, outcome_timestamp) DO NOTHING",
                (
                    service_id,
                    item.card,
                    item.outcome,
                    _utc_iso(item.outcome_timestamp),
                    body,
                    issuer,
                    to_ms(self._clock()),
                ),
            )
        return stored == 1

    def for_card(self, card_uuid: str) -> list[FeedbackRecord]:
        with self._db.read() as tx:
            rows = tx.fetchall(
                "SELECT * FROM cds_feedback WHERE card_uuid = ?"
                " ORDER BY outcome_timestamp, received_ms",
                (card_uuid,),
            )
        return [_record(r) for r in rows]

    def for_service(
        self, service_id: str, since: datetime | None = None, limit: int = 1000
    ) -> list[FeedbackRecord]:
        with self._db.read() as tx:
            rows = tx.fetchall(
                "SELECT * FROM cds_feedback WHERE service_id = ? AND received_ms >= ?"
                " ORDER BY received_ms, card_uuid, outcome_timestamp LIMIT ?",
                (service_id, to_ms(since) if since else 0, limit),
            )
        return [_record(r) for r in rows]

    def purge_older_than(self, cutoff: datetime, *, dry_run: bool = False) -> int:
        """Deletes items received before `cutoff`; `dry_run` counts them instead."""
        return purge_rows(
            self._db,
            "cds_feedback",
            ("service_id", "card_uuid", "outcome", "outcome_timestamp"),
            "received_ms < ?",
            (to_ms(cutoff),),
            dry_run=dry_run,
        )


def _utc_iso(moment: datetime) -> str:
    """One spelling per instant, so `+01:00` and `Z` forms of a resend match."""
    if moment.tzinfo is None:
        raise ValueError("outcomeTimestamp must carry a timezone")
    return moment.astimezone(UTC).isoformat()


def _record(row: Row) -> FeedbackRecord:
    return FeedbackRecord(
        service_id=row["service_id"],
        card=row["card_uuid"],
        outcome=row["outcome"],
        outcome_timestamp=datetime.fromisoformat(row["outcome_timestamp"]),
        item=json.loads(row["item"]),
        issuer=row["issuer"],
        received_at=from_ms(int(row["received_ms"])),
    )
