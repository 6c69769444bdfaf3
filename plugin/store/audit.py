"""Audit trail: who did what to which FHIR resources, with what outcome, in which request.

Only references (`Patient/123`, `DiagnosticReport/abc`), actor ids and codes are kept:
no names, no free text, nothing a log scan for PHI would flag beyond the references
an auditor needs. FHIR AuditEvent write-back (issue 8 item 5) can be built from these rows.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from plugin.store.clock import Clock, from_ms, to_ms, utc_now
from plugin.store.database import Database, Row
from plugin.store.purge import purge_rows

# A relative FHIR reference, optionally versioned; absolute URLs are kept as given.
_REFERENCE = re.compile(
    r"^(?:https?://\S+/)?[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}(?:/_history/[A-Za-z0-9\-.]{1,64})?$"
)
_TOKEN = re.compile(r"^[A-Za-z0-9_.:/\-|@]{1,200}$")


class AuditOutcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


@dataclass(frozen=True)
class AuditEntry:
    actor: str  # "Practitioner/123", "client:<client_id>", "system", "worker:<id>"
    action: str  # a code: "grade", "write-back", "sign-off", "read", ...
    outcome: AuditOutcome
    resource_refs: Sequence[str] = ()
    request_id: str | None = None
    at: datetime | None = None  # set by the store when None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


class AuditTrail:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    def record(self, entry: AuditEntry) -> AuditEntry:
        """Appends the entry (idempotent on its id); returns it with `at` filled in.
        Raises ValueError for values that are not codes or references: free text could
        carry PHI into the trail."""
        for name, value in (("actor", entry.actor), ("action", entry.action)):
            if not _TOKEN.match(value):
                raise ValueError(f"audit {name} must be an id or code, not free text")
        if entry.request_id is not None and not _TOKEN.match(entry.request_id):
            raise ValueError("audit request id must be an id, not free text")
        bad = [r for r in entry.resource_refs if not _REFERENCE.match(r)]
        if bad:
            raise ValueError(f"{len(bad)} audit resource reference(s) are not FHIR references")
        at = entry.at or self._clock()
        with self._db.transaction() as tx:
            tx.execute(
                "INSERT INTO audit_log (id, at_ms, actor, action, outcome, resource_refs,"
                " request_id) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (
                    entry.id,
                    to_ms(at),
                    entry.actor,
                    entry.action,
                    entry.outcome.value,
                    json.dumps(list(entry.resource_refs)),
                    entry.request_id,
                ),
            )
        return AuditEntry(
            actor=entry.actor,
            action=entry.action,
            outcome=entry.outcome,
            resource_refs=tuple(entry.resource_refs),
            request_id=entry.request_id,
            at=from_ms(to_ms(at)),
            id=entry.id,
        )

    def recent(self, limit: int = 100, since: datetime | None = None) -> list[AuditEntry]:
        """Newest first."""
        with self._db.read() as tx:
            rows = tx.fetchall(
                "SELECT * FROM audit_log WHERE at_ms >= ? ORDER BY at_ms DESC, id LIMIT ?",
                (to_ms(since) if since else 0, limit),
            )
        return [_entry(r) for r in rows]

    def for_request(self, request_id: str) -> list[AuditEntry]:
        with self._db.read() as tx:
            rows = tx.fetchall(
                "SELECT * FROM audit_log WHERE request_id = ? ORDER BY at_ms, id", (request_id,)
            )
        return [_entry(r) for r in rows]

    def purge_older_than(self, cutoff: datetime, *, dry_run: bool = False) -> int:
        """Deletes entries recorded before `cutoff` (retention: the audit policy decides,
        nothing calls this by default); `dry_run` counts them instead."""
        return purge_rows(
            self._db, "audit_log", ("id",), "at_ms < ?", (to_ms(cutoff),), dry_run=dry_run
        )


def _entry(row: Row) -> AuditEntry:
    return AuditEntry(
        actor=row["actor"],
        action=row["action"],
        outcome=AuditOutcome(row["outcome"]),
        resource_refs=tuple(json.loads(row["resource_refs"])),
        request_id=row["request_id"],
        at=from_ms(int(row["at_ms"])),
        id=row["id"],
    )
