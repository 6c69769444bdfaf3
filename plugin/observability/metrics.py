"""Prometheus metrics: request latency per route template, grading latency, errors by
type, job queue depth (computed at scrape time from the store).

Single process (the default): each app keeps its metrics in its own registry. Under
gunicorn with several workers, `serve` sets PROMETHEUS_MULTIPROC_DIR before any worker
starts; every worker then writes its samples to files there and a scrape of any worker
aggregates all of them (prometheus_client's multiprocess mode). prometheus_client picks
its mode when first imported, so it is imported here lazily, never at module import.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from time import perf_counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_GRADING_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

QueueDepth = Callable[[], Mapping[str, int]]
"""Job counts by status, asked at each scrape."""


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


class Metrics:
    """The application's metrics. Methods are cheap and thread-safe; call them from views,
    services and job handlers (they never raise into the caller's path)."""

    def __init__(self, queue_depth: QueueDepth | None = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self._queue_depth = queue_depth
        self.registry = CollectorRegistry(auto_describe=True)
        self.request_latency = Histogram(
            "deepdr_http_request_duration_seconds",
            "HTTP request latency by route template, method and status code.",
            ("route", "method", "status"),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.grading_latency = Histogram(
            "deepdr_grading_duration_seconds",
            "Time to grade one image (preprocessing and inference), by model and outcome.",
            ("model", "outcome"),
            buckets=_GRADING_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "deepdr_errors",
            "Errors by type (exception class or HTTP error class) and where they surfaced.",
            ("type", "where"),
            registry=self.registry,
        )

    # -- recording ---------------------------------------------------------------------

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.request_latency.labels(route, method, str(status)).observe(seconds)

    def observe_grading(self, model: str, seconds: float, outcome: str = "ok") -> None:
        self.grading_latency.labels(model, outcome).observe(seconds)

    @contextmanager
    def time_grading(self, model: str) -> Iterator[None]:
        """`with metrics.time_grading("deepdr-effnet-1.0"): predictor.grade(...)`; a raised
        exception is recorded with outcome = its type name, and re-raised."""
        start = perf_counter()
        try:
            yield
        except Exception as exc:
            self.observe_grading(model, perf_counter() - start, type(exc).__name__)
            raise
        self.observe_grading(model, perf_counter() - start)

    def count_error(self, error_type: str, where: str = "app") -> None:
        self.errors.labels(error_type, where).inc()

    # -- exposition --------------------------------------------------------------------

    def render(self) -> bytes:
        """The text exposition of every metric (all workers' in multiprocess mode)."""
        from prometheus_client import CollectorRegistry, generate_latest, multiprocess

        if multiprocess_mode():
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = self.registry
        if self._queue_depth is not None:
            registry = _with_collector(registry, _QueueDepthCollector(self._queue_depth))
        return generate_latest(registry)


class _QueueDepthCollector:
    def __init__(self, queue_depth: QueueDepth) -> None:
        self._queue_depth = queue_depth

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        gauge = GaugeMetricFamily(
            "deepdr_job_queue_depth",
            "Background jobs by status (read from the store).",
            labels=["status"],
        )
        try:
            counts = self._queue_depth()
        except Exception:  # the store being down must not break the scrape
            counts = {}
        for status, count in sorted(counts.items()):
            gauge.add_metric([status], float(count))
        yield gauge


def _with_collector(registry: CollectorRegistry, collector: Any) -> CollectorRegistry:
    """A registry that yields `registry`'s metrics plus those of `collector`, computed now."""
    from prometheus_client import CollectorRegistry

    class _Both:
        def collect(self) -> Iterator[Any]:
            yield from registry.collect()
            yield from collector.collect()

    combined = CollectorRegistry(auto_describe=False)
    combined.register(_Both())
    return combined


def mark_worker_dead(pid: int) -> None:
    """gunicorn `child_exit` hook: drop a dead worker's live-gauge files."""
    if multiprocess_mode():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
