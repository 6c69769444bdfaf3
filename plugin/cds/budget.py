"""The in-request time budget of a hook call, measured from the start of the HTTP request
(before JWT checks and prefetch), and what grading is expected to cost.

The blueprint marks the start in a context variable; the handler (no Flask) reads it. The
estimator learns the grader's cost per image (and a source's fetch cost) from what it
measures, so the decision "grade now or in the background" follows the deployed model and
machine rather than a constant.
"""

from __future__ import annotations

import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass

_request_started: ContextVar[float | None] = ContextVar("cds_request_started", default=None)


def mark_request_start(at: float | None = None) -> None:
    _request_started.set(time.monotonic() if at is None else at)


def request_started(default: float) -> float:
    started = _request_started.get()
    return default if started is None else started


@dataclass(frozen=True)
class Deadline:
    """`at`: monotonic time after which no grading starts in the request."""

    at: float

    @classmethod
    def after(cls, start: float, budget_ms: int) -> Deadline:
        return cls(start + budget_ms / 1000)

    def remaining_ms(self, now: float | None = None) -> float:
        return (self.at - (time.monotonic() if now is None else now)) * 1000

    def fits(self, cost_ms: float, now: float | None = None) -> bool:
        return cost_ms <= self.remaining_ms(now)


class CostEstimator:
    """Exponentially weighted means of grading ms per image and fetch ms per source."""

    def __init__(
        self, grade_ms_per_image: float = 400.0, fetch_ms_per_source: float = 50.0
    ) -> None:
        self._lock = threading.Lock()
        self._grade = grade_ms_per_image
        self._fetch = fetch_ms_per_source
        self._alpha = 0.3

    def grading_ms(self, images: int) -> float:
        with self._lock:
            return self._grade * images

    def fetch_ms(self, sources: int) -> float:
        with self._lock:
            return self._fetch * sources

    def observe_grading(self, images: int, elapsed_ms: float) -> None:
        if images > 0:
            with self._lock:
                self._grade += self._alpha * (elapsed_ms / images - self._grade)

    def observe_fetch(self, sources: int, elapsed_ms: float) -> None:
        if sources > 0:
            with self._lock:
                self._fetch += self._alpha * (elapsed_ms / sources - self._fetch)
