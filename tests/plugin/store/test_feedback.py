"""CDS feedback: a resent item is stored once; the stored item is the wire form."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import AwareDatetime, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from plugin.store import Database, Store
from plugin.store.feedback import FeedbackStore


class Feedback(BaseModel):
    """Stand-in with the shape of cds_hooks.models.Feedback (camelCase on the wire)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    card: str
    outcome: str
    outcome_timestamp: AwareDatetime
    accepted_suggestions: list[dict[str, Any]] | None = None
    override_reason: dict[str, Any] | None = None


WHEN = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


def _accepted(when: datetime = WHEN, card: str = "card-1") -> Feedback:
    return Feedback(
        card=card,
        outcome="accepted",
        outcome_timestamp=when,
        accepted_suggestions=[{"id": "sugg-1"}],
    )


def test_repeat_is_stored_once_even_in_another_timezone(store: Store) -> None:
    fb = store.feedback
    assert fb.record("dr-screening", _accepted(), "https://ehr.example") is True
    assert fb.record("dr-screening", _accepted(), "https://ehr.example") is False
    same_instant = WHEN.astimezone(timezone(timedelta(hours=8)))
    assert fb.record("dr-screening", _accepted(same_instant), None) is False
    assert len(fb.for_card("card-1")) == 1


def test_different_outcome_time_or_service_are_new(store: Store) -> None:
    fb = store.feedback
    assert fb.record("dr-screening", _accepted(), None)
    assert fb.record("dr-screening", _accepted(WHEN + timedelta(seconds=1)), None)
    overridden = Feedback(
        card="card-1",
        outcome="overridden",
        outcome_timestamp=WHEN,
        override_reason={"reason": {"code": "not-relevant"}, "userComment": "n/a"},
    )
    assert fb.record("dr-screening", overridden, None)
    assert fb.record("other-service", _accepted(), None)
    assert len(fb.for_card("card-1")) == 4
    assert len(fb.for_service("dr-screening")) == 3


def test_stored_item_round_trips_in_wire_form(store: Store) -> None:
    store.feedback.record("dr-screening", _accepted(), "https://ehr.example")
    [rec] = store.feedback.for_service("dr-screening")
    assert (
        rec.card == "card-1" and rec.outcome == "accepted" and rec.issuer == "https://ehr.example"
    )
    assert rec.outcome_timestamp == WHEN
    assert rec.item["acceptedSuggestions"] == [{"id": "sugg-1"}]
    assert rec.item["outcomeTimestamp"].startswith("2026-01-15T09:00:00")
    assert "overrideReason" not in rec.item


def test_missing_identity_is_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        store.feedback.record("", _accepted(), None)
    with pytest.raises(ValueError):
        store.feedback.record("svc", _accepted(card=""), None)


def test_concurrent_resends_store_one_row(store_url: str, store: Store) -> None:
    barrier = threading.Barrier(6)
    answers: list[bool] = []

    def post() -> None:
        db = Database(store_url)
        try:
            barrier.wait()
            answers.append(FeedbackStore(db).record("dr-screening", _accepted(), None))
        finally:
            db.close()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [False] * 5 + [True]
