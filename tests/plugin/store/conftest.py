"""Store tests run over both backends: a SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from plugin.store import Store, open_store


class FakeClock:
    """A settable UTC clock, so leases and expiries are tested without sleeping."""

    def __init__(self, start: datetime = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, **delta: float) -> None:
        with self._lock:
            self._now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(store_url: str, clock: FakeClock) -> Iterator[Store]:
    with open_store(store_url, clock=clock) as opened:
        yield opened
