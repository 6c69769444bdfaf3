"""SMART session persistence: blobs by session id, expiry, no raw ids in the table."""

from __future__ import annotations

from datetime import timedelta

import pytest

from plugin.store import Store


def test_put_get_replace_delete(store: Store, clock) -> None:
    sessions = store.sessions
    exp = clock() + timedelta(hours=1)
    assert sessions.get("sid-1") is None
    sessions.put("sid-1", b"\x00sealed\xff", exp)
    assert sessions.get("sid-1") == b"\x00sealed\xff"
    sessions.put("sid-1", b"newer", exp)
    assert sessions.get("sid-1") == b"newer"
    sessions.delete("sid-1")
    assert sessions.get("sid-1") is None
    sessions.delete("sid-1")  # deleting twice is fine


def test_expired_sessions_are_invisible_then_purged(store: Store, clock) -> None:
    store.sessions.put("short", b"a", clock() + timedelta(minutes=5))
    store.sessions.put("long", b"b", clock() + timedelta(hours=5))
    clock.advance(minutes=6)
    assert store.sessions.get("short") is None
    assert store.sessions.purge_expired() == 1
    assert store.sessions.get("long") == b"b"


def test_the_table_holds_no_session_id(store: Store, clock) -> None:
    store.sessions.put("cookie-value-XYZ", b"blob", clock() + timedelta(hours=1))
    with store.db.read() as tx:
        rows = tx.fetchall("SELECT * FROM smart_sessions")
    assert len(rows) == 1
    assert "cookie-value-XYZ" not in repr(rows)


def test_empty_session_id_is_refused(store: Store, clock) -> None:
    with pytest.raises(ValueError):
        store.sessions.put("", b"x", clock())
