"""SMART session persistence shared by stateless web workers.

Implements smart_launch.session.SessionBackend by duck typing:
    get(session_id: str) -> bytes | None
    put(session_id: str, blob: bytes, expires_at: datetime) -> None
    delete(session_id: str) -> None

Blobs arrive sealed (smart_launch's SessionCipher, AES-GCM bound to the session id); the
row is keyed by a SHA-256 of the session id, so a copy of the store holds neither tokens
nor usable session cookies.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

from plugin.store.clock import Clock, to_ms, utc_now
from plugin.store.database import Database
from plugin.store.purge import purge_rows


class SessionStore:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    def put(self, session_id: str, blob: bytes, expires_at: datetime) -> None:
        with self._db.transaction() as tx:
            tx.execute(
                "INSERT INTO smart_sessions (id_hash, sealed, expires_ms, updated_ms)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (id_hash) DO UPDATE SET"
                " sealed = excluded.sealed, expires_ms = excluded.expires_ms,"
                " updated_ms = excluded.updated_ms",
                (
                    _id_hash(session_id),
                    base64.b64encode(blob).decode("ascii"),
                    to_ms(expires_at),
                    to_ms(self._clock()),
                ),
            )

    def get(self, session_id: str) -> bytes | None:
        """The stored blob; None when unknown or expired."""
        with self._db.read() as tx:
            row = tx.fetchone(
                "SELECT sealed FROM smart_sessions WHERE id_hash = ? AND expires_ms > ?",
                (_id_hash(session_id), to_ms(self._clock())),
            )
        return base64.b64decode(row["sealed"]) if row else None

    def delete(self, session_id: str) -> None:
        with self._db.transaction() as tx:
            tx.execute("DELETE FROM smart_sessions WHERE id_hash = ?", (_id_hash(session_id),))

    def purge_expired(self, *, dry_run: bool = False) -> int:
        """Deletes expired sessions (refused by `get` anyway); `dry_run` counts them."""
        return purge_rows(
            self._db,
            "smart_sessions",
            ("id_hash",),
            "expires_ms <= ?",
            (to_ms(self._clock()),),
            dry_run=dry_run,
        )


def _id_hash(session_id: str) -> str:
    if not session_id:
        raise ValueError("empty session id")
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()
