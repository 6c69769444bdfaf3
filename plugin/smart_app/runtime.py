"""The SMART app's long-lived parts, built once per Services from Settings: the launch
client, the encrypted session repository, derived keys (CSRF, job sealing, pseudonyms),
the optional content signer and the cookie policy. No Flask here; the blueprint and the
review job share one runtime through `services.extensions`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from plugin.config import SMART_RECOMMENDED_SCOPES, Settings, SmartSettings
from plugin.config_loader import ConfigError
from plugin.services import Services
from plugin.signoff import ContentSigner
from smart_launch import (
    AsymmetricClient,
    ClientAuthenticator,
    ClientAuthError,
    PublicClient,
    SessionBackend,
    SessionCipher,
    SessionError,
    SessionRepository,
    SigningKey,
    SmartAppConfig,
    SmartLaunchClient,
    SymmetricClient,
)

EXTENSION_KEY = "smart_app"
GRADER_EXTENSION_KEY = "grader"
"""services.extensions[...] may hold a ready Grader (tests, the demo, a remote client);
otherwise the review job loads the configured bundle on first use."""
LAUNCH_PATH = "/smart/launch"
STANDALONE_PATH = "/smart/launch/standalone"
JWKS_PATH = "/smart/.well-known/jwks.json"
SESSION_TTL_S = 8 * 3600

RECOMMENDED_SCOPES: tuple[str, ...] = SMART_RECOMMENDED_SCOPES
"""What the review app needs in full; the config default (plugin.config). Granted less, it
degrades: see plugin.smart_app.capabilities."""
_LAUNCH_SCOPES = frozenset({"launch", "launch/patient", "launch/encounter"})


@dataclass(frozen=True)
class CookiePolicy:
    """Cross-site EHR iframes need SameSite=None; Secure (and Partitioned, so browsers
    that block third-party cookies keep a per-EHR jar). Plain http is only for loopback
    tests and demos, where app and EHR are same-site: Lax without Secure."""

    secure: bool

    @property
    def samesite(self) -> str:
        return "None" if self.secure else "Lax"


@dataclass
class SmartRuntime:
    settings: Settings
    client: SmartLaunchClient
    sessions: SessionRepository
    job_cipher: SessionCipher  # seals session ids inside job payloads
    csrf_key: bytes
    pseudonym_key: bytes
    signer: ContentSigner | None
    signing_key: SigningKey | None
    cookies: CookiePolicy
    public_base_url: str

    @property
    def launch_url(self) -> str:
        return self.public_base_url + LAUNCH_PATH

    @property
    def redirect_uri(self) -> str:
        return self.client.app.redirect_uri

    def csrf_token(self, session_id: str) -> str:
        return hmac.new(self.csrf_key, session_id.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session_id: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(session_id), str(token))

    def close(self) -> None:
        self.client.close()


_LOCK = threading.Lock()


def smart_runtime(services: Services) -> SmartRuntime | None:
    """The runtime of this Services (built on first call); None when the SMART app is off
    (`smart.client_id` unset)."""
    with _LOCK:
        found = services.extensions.get(EXTENSION_KEY)
        if isinstance(found, SmartRuntime):
            return found
        if services.settings.smart.client_id is None:
            return None
        runtime = build_runtime(services.settings, services.store.sessions)
        services.extensions[EXTENSION_KEY] = runtime
        services.add_closer(runtime.close)
        return runtime


def _derive(master: bytes, purpose: str) -> bytes:
    return hmac.new(master, f"deepdr-smart-app:{purpose}".encode(), hashlib.sha256).digest()


def build_runtime(settings: Settings, backend: SessionBackend) -> SmartRuntime:
    """`backend`: where sealed sessions are kept (the store's SessionStore)."""
    smart = settings.smart
    public = settings.server.public_base_url
    redirect = settings.smart_redirect_uri()
    if public is None or redirect is None or smart.client_id is None:
        raise ConfigError(["smart: client_id and server.public_base_url are required"])
    keys = [k.get_secret_value() for k in smart.session_keys]
    try:
        cipher = SessionCipher(list(keys))
        master = _key_bytes(keys[0])
    except (SessionError, ValueError) as exc:
        raise ConfigError([f"smart.session_keys: {exc}"]) from None
    signing_key = _signing_key(smart)
    client = SmartLaunchClient(
        SmartAppConfig(
            client=_client(smart, signing_key),
            redirect_uri=redirect,
            scopes=tuple(s for s in smart.scopes if s not in _LAUNCH_SCOPES),
            allowed_issuers=smart.allowed_issuers,
        )
    )
    return SmartRuntime(
        settings=settings,
        client=client,
        sessions=SessionRepository(backend, cipher, ttl_s=SESSION_TTL_S),
        job_cipher=SessionCipher([_derive(master, "job-seal")]),
        csrf_key=_derive(master, "csrf"),
        pseudonym_key=_derive(master, "pair-pseudonym"),
        signer=ContentSigner(signing_key, smart.client_id) if signing_key else None,
        signing_key=signing_key,
        cookies=CookiePolicy(secure=urlsplit(public).scheme == "https"),
        public_base_url=public,
    )


def _key_bytes(key: str) -> bytes:
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    if len(raw) != 32:
        raise ValueError("a session key must be 32 bytes")
    return raw


def _signing_key(smart: SmartSettings) -> SigningKey | None:
    if smart.private_key_path is None:
        return None
    path = Path(smart.private_key_path)
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            [f"smart.private_key_path: cannot read {path} ({exc.strerror})"]
        ) from None
    try:
        return SigningKey.from_pem(pem, smart.signing_alg)
    except ClientAuthError as exc:
        raise ConfigError([f"smart.private_key_path: {exc}"]) from None


def _client(smart: SmartSettings, key: SigningKey | None) -> ClientAuthenticator:
    assert smart.client_id is not None
    if smart.client_auth == "client_secret_basic":
        assert smart.client_secret is not None  # the settings validator guarantees it
        return SymmetricClient(smart.client_id, smart.client_secret.get_secret_value())
    if smart.client_auth == "private_key_jwt":
        assert key is not None
        return AsymmetricClient(smart.client_id, key)
    return PublicClient(smart.client_id)
