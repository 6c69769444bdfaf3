"""The `jti` replay cache: every CDS Client JWT may be used once (CDS Hooks 2.0: jti is "a
nonce ... used to protect against replay attacks"). Entries live until the token expires."""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from typing import Protocol


class JtiReplayCache(Protocol):
    def remember(self, issuer: str, jti: str, expires_at: float) -> bool:
        """Record (issuer, jti) until `expires_at` (epoch seconds). Return True when it was
        new, False when it was already recorded and has not expired (a replay)."""
        ...


class InMemoryJtiCache:
    """Thread-safe, bounded in memory. Valid tokens live at most a few minutes, so the
    bound is only reached under a flood; then the entries closest to expiry are dropped
    first (they are the least useful to replay). A multi-process deployment needs a
    shared cache instead (the plugin's store provides one)."""

    def __init__(self, max_entries: int = 200_000, clock: Callable[[], float] = time.time) -> None:
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._expiry: dict[tuple[str, str], float] = {}
        self._heap: list[tuple[float, tuple[str, str]]] = []

    def remember(self, issuer: str, jti: str, expires_at: float) -> bool:
        key = (issuer, jti)
        now = self._clock()
        with self._lock:
            self._purge(now)
            if key in self._expiry:
                return False
            while len(self._expiry) >= self._max and self._heap:
                _, oldest = heapq.heappop(self._heap)
                self._expiry.pop(oldest, None)
            self._expiry[key] = expires_at
            heapq.heappush(self._heap, (expires_at, key))
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._expiry)

    def _purge(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            expires_at, key = heapq.heappop(self._heap)
            if self._expiry.get(key) == expires_at:
                del self._expiry[key]
