"""A bearer-token callable for a FHIR gateway, backed by a stored SMART session: each call
loads the session, refreshes it when it is within the margin of expiry, persists the result,
and returns the access token. Refreshes of one session are serialised in this process, so two
concurrent requests do not both spend a rotating refresh token."""

from __future__ import annotations

import threading

from smart_launch.errors import SessionError, TokenExpired
from smart_launch.launch import SmartLaunchClient
from smart_launch.session import SessionRepository

# Striped locks: bounded memory however many sessions come and go.
_LOCKS = tuple(threading.Lock() for _ in range(64))


def _lock_for(session_id: str) -> threading.Lock:
    return _LOCKS[hash(session_id) % len(_LOCKS)]


class SessionTokenProvider:
    def __init__(
        self, client: SmartLaunchClient, repository: SessionRepository, session_id: str
    ) -> None:
        self._client = client
        self._repository = repository
        self._session_id = session_id

    def __repr__(self) -> str:
        return "SessionTokenProvider(...)"

    def __call__(self) -> str:
        with _lock_for(self._session_id):
            session = self._repository.load(self._session_id)
            if session is None:
                raise SessionError("no stored SMART session for this id")
            if session.tokens is None:
                raise TokenExpired("the session was never authorized")
            fresh = self._client.ensure_fresh(session)
            if fresh is not session:
                self._repository.save(fresh)
            assert fresh.tokens is not None
            return fresh.tokens.access_token
