"""The queue's attempt limit comes from config unless a job kind sets its own."""

from __future__ import annotations

from typing import Any

import pytest

from plugin.jobs import HandlerRegistry, JobQueue
from plugin.store import Store


def _queue(store: Store, **kw: Any) -> JobQueue:
    registry = HandlerRegistry()
    registry.register("noop", lambda payload, progress: None)
    return JobQueue(store.jobs, registry, **kw)


def test_default_max_attempts_applies_when_a_kind_sets_none(store: Store) -> None:
    job = _queue(store, default_max_attempts=2).enqueue("noop", {}, "k1")
    assert job.max_attempts == 2


def test_an_explicit_limit_wins_over_the_default(store: Store) -> None:
    job = _queue(store, default_max_attempts=2).enqueue("noop", {}, "k2", max_attempts=7)
    assert job.max_attempts == 7


def test_default_must_be_positive(store: Store) -> None:
    with pytest.raises(ValueError):
        _queue(store, default_max_attempts=0)
