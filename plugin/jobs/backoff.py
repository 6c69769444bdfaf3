"""Retry delays: exponential, capped, with optional jitter so a failing dependency is not
hit by every retry at the same instant."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Backoff:
    base_s: float = 5.0
    factor: float = 2.0
    max_s: float = 600.0
    jitter: float = 0.1  # +- this fraction of the delay

    def delay(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        """Wait after failed attempt number `attempt` (1-based)."""
        raw = min(self.base_s * self.factor ** max(0, attempt - 1), self.max_s)
        spread = raw * self.jitter
        offset = (rng or random).uniform(-spread, spread) if spread else 0.0
        return timedelta(seconds=max(0.0, raw + offset))
