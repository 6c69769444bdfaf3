"""JWT replay cache: each (iss, jti) is accepted once until the token expires.

Shared by every web worker through the store, so a token replayed to another worker is
still caught. The check and the insert are one statement, atomic on both databases:
of two requests racing with the same jti exactly one is told "new".

Implements cds_hooks.replay.JtiReplayCache by duck typing:
    remember(issuer: str, jti: str, expires_at: float) -> bool   # epoch seconds; True when new
and the same with datetimes for other callers:
    check_and_store(iss: str, jti: str, expires_at: datetime) -> bool   # True when new
    seen_before(iss: str, jti: str, expires_at: datetime) -> bool       # the negation
"""

from __future__ import annotations

from datetime import UTC, datetime

from plugin.store.clock import Clock, to_ms, utc_now
from plugin.store.database import Database
from plugin.store.purge import purge_rows


class ReplayCache:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    def check_and_store(self, iss: str, jti: str, expires_at: datetime) -> bool:
        """Records the token id; True if it was not seen before (or only as an entry
        that has expired: such a token fails its `exp` check anyway, and its row is
        reused rather than blocking the id forever when purge has not run yet)."""
        if not iss or not jti:
            raise ValueError("iss and jti are required for replay protection")
        now_ms = to_ms(self._clock())
        with self._db.transaction() as tx:
            changed = tx.execute(
                "INSERT INTO jwt_replay (iss, jti, expires_ms) VALUES (?, ?, ?)"
                " ON CONFLICT (iss, jti) DO UPDATE SET expires_ms = excluded.expires_ms"
                " WHERE jwt_replay.expires_ms <= ?",
                (iss, jti, to_ms(expires_at), now_ms),
            )
        return changed == 1

    def remember(self, issuer: str, jti: str, expires_at: float) -> bool:
        return self.check_and_store(issuer, jti, datetime.fromtimestamp(expires_at, UTC))

    def seen_before(self, iss: str, jti: str, expires_at: datetime) -> bool:
        return not self.check_and_store(iss, jti, expires_at)

    def purge_expired(self, *, dry_run: bool = False) -> int:
        """Deletes ids whose token has expired (such a token fails its `exp` check anyway);
        `dry_run` counts them instead."""
        return purge_rows(
            self._db,
            "jwt_replay",
            ("iss", "jti"),
            "expires_ms <= ?",
            (to_ms(self._clock()),),
            dry_run=dry_run,
        )
