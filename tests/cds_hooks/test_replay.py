"""InMemoryJtiCache: once per (issuer, jti) until expiry, bounded."""

from __future__ import annotations

import threading

from cds_hooks.replay import InMemoryJtiCache


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_jti_is_accepted_once_until_it_expires() -> None:
    clock = Clock()
    cache = InMemoryJtiCache(clock=clock)
    assert cache.remember("iss", "j", expires_at=200)
    assert not cache.remember("iss", "j", expires_at=200)
    assert cache.remember("other-iss", "j", expires_at=200)
    clock.now = 200.5
    assert cache.remember("iss", "j", expires_at=300)  # expired entries are forgotten
    assert len(cache) == 1


def test_the_bound_drops_the_entries_closest_to_expiry() -> None:
    cache = InMemoryJtiCache(max_entries=2, clock=Clock())
    cache.remember("i", "soon", 150)
    cache.remember("i", "late", 500)
    cache.remember("i", "new", 400)
    assert len(cache) == 2
    assert not cache.remember("i", "late", 500)
    assert cache.remember("i", "soon", 150)


def test_concurrent_replays_let_exactly_one_through() -> None:
    cache = InMemoryJtiCache(clock=Clock())
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        results.append(cache.remember("iss", "same", 999))

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1
