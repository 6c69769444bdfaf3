"""Time in the store: UTC datetimes in Python, integer epoch milliseconds in the database
(one column type, BIGINT, that sorts and compares the same on SQLite and PostgreSQL).

Every repository takes a `Clock` so tests can move time (lease expiry, replay-cache purge)
without sleeping. Hosts sharing a PostgreSQL store need synchronised clocks (NTP): leases
are compared against the clock of the process that reads them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: the store needs timezone-aware times")
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
