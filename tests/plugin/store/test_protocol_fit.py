"""The store's repositories plugged into the protocols cds_hooks and smart_launch define:
real models and real callers, so a drift between the two sides fails here."""

from __future__ import annotations

import base64
import time

from cds_hooks.models import Feedback
from cds_hooks.replay import JtiReplayCache
from cds_hooks.service import FeedbackStore as FeedbackStoreProtocol
from plugin.store import Store
from smart_launch.discovery import SmartConfiguration
from smart_launch.session import (
    SessionBackend,
    SessionCipher,
    SessionRepository,
    SmartSession,
    new_session_id,
)


def test_cds_feedback_model_is_stored_once(store: Store) -> None:
    feedback_store: FeedbackStoreProtocol = store.feedback
    wire = {
        "card": "f4b3c1d2-0000-4000-8000-000000000001",
        "outcome": "overridden",
        "overrideReason": {
            "reason": {"code": "no-eye-clinic", "system": "https://example.org/reasons"},
            "userComment": "patient seen last week",
        },
        "outcomeTimestamp": "2026-01-15T10:00:00+01:00",
    }
    item = Feedback.model_validate(wire)
    assert feedback_store.record("dr-screening", item, "https://ehr.example") is True
    assert feedback_store.record("dr-screening", Feedback.model_validate(wire), None) is False
    [stored] = store.feedback.for_card(wire["card"])
    assert stored.item["overrideReason"]["userComment"] == "patient seen last week"
    assert stored.outcome_timestamp.isoformat() == "2026-01-15T09:00:00+00:00"


def test_jti_replay_cache_protocol(store: Store) -> None:
    cache: JtiReplayCache = store.replay_cache
    exp = time.time() + 300
    assert cache.remember("https://ehr.example", "jti-abc", exp) is True
    assert cache.remember("https://ehr.example", "jti-abc", exp) is False


def test_smart_sessions_round_trip_through_the_store(store: Store) -> None:
    backend: SessionBackend = store.sessions
    repo = SessionRepository(backend, SessionCipher([SessionCipher.generate_key()]))
    session = SmartSession(
        session_id=new_session_id(),
        iss="https://ehr.example/fhir",
        launch_kind="ehr",
        client_id="deepdr",
        config=SmartConfiguration(token_endpoint="https://ehr.example/token"),
        requested_scope="launch openid fhirUser patient/*.rs",
        created_at=time.time(),
    )
    repo.save(session)
    assert repo.load(session.session_id) == session
    with store.db.read() as tx:
        row = tx.fetchone("SELECT sealed FROM smart_sessions")
    assert row is not None and b"ehr.example" not in base64.b64decode(row["sealed"])
    repo.delete(session.session_id)
    assert repo.load(session.session_id) is None
