"""Session state: serialisable, encrypted at rest, bound to its id, secrets out of repr."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smart_launch.discovery import SmartConfiguration
from smart_launch.errors import SessionError
from smart_launch.session import (
    InMemorySessionBackend,
    PendingAuthorization,
    SessionCipher,
    SessionRepository,
    SmartSession,
    open_session,
    seal_session,
)
from smart_launch.tokens import TokenSet


def session(session_id: str = "sid-1") -> SmartSession:
    return SmartSession(
        session_id=session_id,
        iss="https://ehr.example.org/fhir",
        launch_kind="ehr",
        client_id="app",
        config=SmartConfiguration(token_endpoint="https://ehr.example.org/token"),
        requested_scope="launch patient/Observation.rs",
        pending=PendingAuthorization(
            state="state-secret",
            code_verifier="verifier-secret",
            redirect_uri="https://app/cb",
            requested_scope="launch patient/Observation.rs",
            created_at=1.0,
        ),
        tokens=TokenSet(
            access_token="access-secret",
            refresh_token="refresh-secret",
            scope="launch",
            patient="p1",
        ),
        created_at=1.0,
    )


def test_round_trip_through_encryption() -> None:
    cipher = SessionCipher([SessionCipher.generate_key()])
    original = session()
    blob = seal_session(original, cipher)
    for secret in (b"access-secret", b"refresh-secret", b"verifier-secret", b"p1"):
        assert secret not in blob
    assert open_session(blob, "sid-1", cipher) == original


def test_tampered_blob_is_refused() -> None:
    cipher = SessionCipher([SessionCipher.generate_key()])
    blob = bytearray(seal_session(session(), cipher))
    blob[-1] ^= 0x01
    with pytest.raises(SessionError, match="tampered"):
        open_session(bytes(blob), "sid-1", cipher)


def test_blob_under_another_session_id_is_refused() -> None:
    cipher = SessionCipher([SessionCipher.generate_key()])
    blob = seal_session(session("sid-1"), cipher)
    with pytest.raises(SessionError):
        open_session(blob, "sid-2", cipher)


def test_wrong_key_is_refused_and_rotation_reads_old_blobs() -> None:
    old, new = SessionCipher.generate_key(), SessionCipher.generate_key()
    blob = seal_session(session(), SessionCipher([old]))
    with pytest.raises(SessionError):
        open_session(blob, "sid-1", SessionCipher([new]))
    assert open_session(blob, "sid-1", SessionCipher([new, old])).session_id == "sid-1"


@pytest.mark.parametrize("key", ["", "c2hvcnQ", b"x" * 31, "not base64 !!"])
def test_bad_keys_are_refused(key: str | bytes) -> None:
    with pytest.raises(SessionError):
        SessionCipher([key])


def test_unknown_blob_format_is_refused() -> None:
    cipher = SessionCipher([SessionCipher.generate_key()])
    with pytest.raises(SessionError, match="format"):
        open_session(b"\x02" + b"0" * 40, "sid-1", cipher)


def test_repr_hides_secrets() -> None:
    text = repr(session()) + str(session())
    for secret in ("access-secret", "refresh-secret", "state-secret", "verifier-secret", "sid-1"):
        assert secret not in text


def test_repository_with_injected_backend() -> None:
    backend = InMemorySessionBackend()
    repo = SessionRepository(backend, SessionCipher([SessionCipher.generate_key()]))
    repo.save(session())
    assert isinstance(backend.get("sid-1"), bytes)
    loaded = repo.load("sid-1")
    assert loaded is not None and loaded.tokens is not None
    assert loaded.tokens.access_token == "access-secret"
    repo.delete("sid-1")
    assert repo.load("sid-1") is None


def test_in_memory_backend_drops_expired_items() -> None:
    backend = InMemorySessionBackend()
    backend.put("a", b"x", datetime.now(UTC) - timedelta(seconds=1))
    backend.put("b", b"y", datetime.now(UTC) + timedelta(hours=1))
    assert backend.get("a") is None and backend.get("b") == b"y"


def test_missing_scopes() -> None:
    s = session()
    assert s.missing_scopes() == ("patient/Observation.rs",)
    assert s.model_copy(update={"tokens": None}).missing_scopes() == (
        "launch",
        "patient/Observation.rs",
    )
