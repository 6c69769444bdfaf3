"""JWT replay cache: one use per (iss, jti) until expiry, atomic across threads."""

from __future__ import annotations

import threading
from datetime import timedelta

from plugin.store import Database, Store
from plugin.store.replay_cache import ReplayCache


def test_second_use_is_a_replay_other_issuer_is_not(store: Store, clock) -> None:
    exp = clock() + timedelta(minutes=5)
    cache = store.replay_cache
    assert cache.check_and_store("https://ehr.example", "jti-1", exp) is True
    assert cache.check_and_store("https://ehr.example", "jti-1", exp) is False
    assert cache.seen_before("https://ehr.example", "jti-1", exp) is True
    assert cache.check_and_store("https://other.example", "jti-1", exp) is True


def test_remember_takes_epoch_seconds(store: Store, clock) -> None:
    exp = (clock() + timedelta(minutes=5)).timestamp()
    assert store.replay_cache.remember("iss", "j", exp) is True
    assert store.replay_cache.remember("iss", "j", exp) is False


def test_expired_entry_is_reused_and_purged(store: Store, clock) -> None:
    cache = store.replay_cache
    assert cache.check_and_store("iss", "old", clock() + timedelta(minutes=1))
    assert cache.check_and_store("iss", "kept", clock() + timedelta(hours=1))
    clock.advance(minutes=2)
    assert cache.purge_expired() == 1
    assert cache.check_and_store("iss", "kept", clock() + timedelta(hours=1)) is False
    assert cache.check_and_store("iss", "late", clock() - timedelta(seconds=1))
    # Not purged yet but expired: a new token with that id is not blocked forever.
    assert cache.check_and_store("iss", "late", clock() + timedelta(minutes=5)) is True


def test_racing_requests_exactly_one_wins(store_url: str, store: Store, clock) -> None:
    """Eight workers, each with its own connection pool, present the same token at once."""
    exp = clock() + timedelta(minutes=5)
    barrier = threading.Barrier(8)
    answers: list[bool] = []
    lock = threading.Lock()

    def present() -> None:
        db = Database(store_url)
        try:
            cache = ReplayCache(db, clock)
            barrier.wait()
            got = cache.check_and_store("iss", "same-jti", exp)
            with lock:
                answers.append(got)
        finally:
            db.close()

    threads = [threading.Thread(target=present) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [False] * 7 + [True]
