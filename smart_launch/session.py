"""Server-side SMART session state: a serialisable pydantic object, persisted through an
injected backend (get/put/delete by session id), encrypted at rest with AES-256-GCM.

The session id (kept in the browser's cookie) is bound into the ciphertext as associated data,
so a blob copied under another id does not decrypt. Secrets are excluded from `repr`."""

from __future__ import annotations

import base64
import os
import secrets
import threading
from datetime import UTC, datetime
from typing import Literal, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from smart_launch.discovery import SmartConfiguration
from smart_launch.errors import SessionError
from smart_launch.id_token import relative_fhir_user
from smart_launch.scopes import split_scope
from smart_launch.tokens import TokenSet

_BLOB_VERSION = b"\x01"
_NONCE_BYTES = 12


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


class PendingAuthorization(BaseModel):
    """Between the redirect to the authorize endpoint and the callback. Single use: cleared
    once the callback is handled, so a replayed callback finds nothing to match."""

    model_config = ConfigDict(frozen=True)

    state: str = Field(repr=False)
    code_verifier: str = Field(repr=False)
    redirect_uri: str
    requested_scope: str
    launch: str | None = Field(default=None, repr=False)
    created_at: float


class SmartSession(BaseModel):
    """Everything the app knows about one launch. Immutable: operations return a new one."""

    model_config = ConfigDict(frozen=True)

    session_id: str = Field(repr=False)
    iss: str
    launch_kind: Literal["ehr", "standalone"]
    client_id: str
    config: SmartConfiguration
    requested_scope: str
    pending: PendingAuthorization | None = None
    tokens: TokenSet | None = None
    created_at: float

    @property
    def authorized(self) -> bool:
        return self.tokens is not None

    @property
    def fhir_user_reference(self) -> str | None:
        """The signed-in user as `Practitioner/123` when the id_token's fhirUser lies on this
        FHIR server (absolute on another server otherwise); None without an id_token."""
        if self.tokens is None or self.tokens.fhir_user is None:
            return None
        return relative_fhir_user(self.tokens.fhir_user, self.iss)

    def missing_scopes(self) -> tuple[str, ...]:
        """Requested scopes the token does not carry (all of them before authorization):
        what the app must do without, and can tell the user about."""
        requested = split_scope(self.requested_scope)
        if self.tokens is None:
            return requested
        return self.tokens.granted.missing_from(requested)


class SessionBackend(Protocol):
    """Persistence the host application provides (database table, cache, ...). Blobs are
    already encrypted; `expires_at` lets the store purge abandoned sessions."""

    def get(self, session_id: str) -> bytes | None: ...

    def put(self, session_id: str, blob: bytes, expires_at: datetime) -> None: ...

    def delete(self, session_id: str) -> None: ...


class InMemorySessionBackend:
    """A process-local backend for tests, the demo and single-process deployments."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[bytes, datetime]] = {}
        self._lock = threading.Lock()

    def get(self, session_id: str) -> bytes | None:
        with self._lock:
            item = self._items.get(session_id)
            if item is None:
                return None
            if item[1] <= datetime.now(UTC):
                del self._items[session_id]
                return None
            return item[0]

    def put(self, session_id: str, blob: bytes, expires_at: datetime) -> None:
        with self._lock:
            self._items[session_id] = (blob, expires_at)

    def delete(self, session_id: str) -> None:
        with self._lock:
            self._items.pop(session_id, None)


class SessionCipher:
    """AES-256-GCM. The first key encrypts; every key is tried to decrypt (key rotation).
    Keys are 32 bytes, given raw or as URL-safe base64 (`generate_key()` makes one)."""

    def __init__(self, keys: list[bytes | str]) -> None:
        if not keys:
            raise SessionError("at least one session encryption key is needed")
        self._aeads = [AESGCM(_key_bytes(k)) for k in keys]

    @staticmethod
    def generate_key() -> str:
        return base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode("ascii")

    def __repr__(self) -> str:
        return f"SessionCipher(keys={len(self._aeads)})"

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return _BLOB_VERSION + nonce + self._aeads[0].encrypt(nonce, plaintext, associated_data)

    def decrypt(self, blob: bytes, associated_data: bytes) -> bytes:
        if len(blob) < 1 + _NONCE_BYTES + 16 or blob[:1] != _BLOB_VERSION:
            raise SessionError("stored session has an unknown format")
        nonce, ciphertext = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        for aead in self._aeads:
            try:
                return aead.decrypt(nonce, ciphertext, associated_data)
            except InvalidTag:
                continue
        raise SessionError("stored session could not be decrypted (tampered or wrong key)")


def _key_bytes(key: bytes | str) -> bytes:
    if isinstance(key, bytes):
        raw = key
    else:
        try:
            raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
        except ValueError as exc:
            raise SessionError("session key is not valid base64") from exc
    if len(raw) != 32:
        raise SessionError("session key must be 32 bytes (AES-256)")
    return raw


def seal_session(session: SmartSession, cipher: SessionCipher) -> bytes:
    return cipher.encrypt(session.model_dump_json().encode("utf-8"), _aad(session.session_id))


def open_session(blob: bytes, session_id: str, cipher: SessionCipher) -> SmartSession:
    plaintext = cipher.decrypt(blob, _aad(session_id))
    try:
        session = SmartSession.model_validate_json(plaintext)
    except ValidationError as exc:
        raise SessionError("stored session does not match the current format") from exc
    if session.session_id != session_id:
        raise SessionError("stored session belongs to another id")
    return session


def _aad(session_id: str) -> bytes:
    return b"smart-session:" + session_id.encode("utf-8")


class SessionRepository:
    """Stores SmartSessions through a backend, encrypted. `ttl_s` bounds how long an
    abandoned session is kept (the backend purges after `expires_at`)."""

    def __init__(
        self, backend: SessionBackend, cipher: SessionCipher, *, ttl_s: float = 12 * 3600
    ) -> None:
        self._backend = backend
        self._cipher = cipher
        self._ttl_s = ttl_s

    def save(self, session: SmartSession) -> None:
        expires_at = datetime.fromtimestamp(datetime.now(UTC).timestamp() + self._ttl_s, UTC)
        self._backend.put(session.session_id, seal_session(session, self._cipher), expires_at)

    def load(self, session_id: str) -> SmartSession | None:
        blob = self._backend.get(session_id)
        if blob is None:
            return None
        return open_session(blob, session_id, self._cipher)

    def delete(self, session_id: str) -> None:
        self._backend.delete(session_id)
