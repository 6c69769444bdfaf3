"""In-memory state of the test EHR: launches, authorization codes, tokens, consent tickets and
seen client-assertion ids. One lock; everything is small and short-lived."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class EhrUser:
    """The signed-in EHR user. `fhir_user` is relative (`Practitioner/xyz`)."""

    sub: str
    fhir_user: str


@dataclass(frozen=True)
class LaunchContext:
    """Context established by an EHR launch or the standalone patient picker."""

    patient: str | None = None
    encounter: str | None = None
    need_patient_banner: bool | None = None
    smart_style_url: str | None = None
    intent: str | None = None
    tenant: str | None = None
    fhir_context: tuple[str, ...] = ()
    # A CDS Hooks card link's appContext, passed through to the token response unchanged.
    app_context: str | None = None

    def token_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for name in ("patient", "encounter", "need_patient_banner", "smart_style_url"):
            value = getattr(self, name)
            if value is not None:
                params[name] = value
        if self.intent:
            params["intent"] = self.intent
        if self.tenant:
            params["tenant"] = self.tenant
        if self.fhir_context:
            params["fhirContext"] = [{"reference": ref} for ref in self.fhir_context]
        if self.app_context is not None:
            params["appContext"] = self.app_context
        return params


@dataclass(frozen=True)
class Launch:
    launch_id: str
    client_id: str
    user: EhrUser
    context: LaunchContext
    expires_at: float


@dataclass(frozen=True)
class GrantDecision:
    """What the user approved on the consent page; authlib carries it as the 'grant user'."""

    user: EhrUser
    context: LaunchContext
    scope: str


@dataclass(frozen=True)
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    decision: GrantDecision
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None
    auth_time: int
    expires_at: float

    # authlib AuthorizationCodeMixin
    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    client_id: str
    scope: str
    expires_at: float
    user: EhrUser | None
    context: LaunchContext
    refresh_token: str | None = None
    refresh_expires_at: float | None = None
    refresh_revoked: bool = False

    # authlib TokenMixin (used by the refresh grant)
    def check_client(self, client: Any) -> bool:
        return bool(client.get_client_id() == self.client_id)

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, int(self.expires_at - time.time()))

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.refresh_revoked


@dataclass
class EhrStore:
    launches: dict[str, Launch] = field(default_factory=dict)
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    tokens: dict[str, IssuedToken] = field(default_factory=dict)
    refresh_index: dict[str, str] = field(default_factory=dict)  # refresh -> access token
    consent_tickets: dict[str, tuple[str, float]] = field(default_factory=dict)
    seen_jti: dict[tuple[str, str], float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_launch(self, launch: Launch) -> None:
        with self.lock:
            self.launches[launch.launch_id] = launch

    def get_launch(self, launch_id: str, client_id: str) -> Launch | None:
        with self.lock:
            launch = self.launches.get(launch_id)
        if launch is None or launch.client_id != client_id or launch.expires_at <= time.time():
            return None
        return launch

    def add_code(self, code: AuthorizationCode) -> None:
        with self.lock:
            self.codes[code.code] = code

    def get_code(self, code: str, client_id: str) -> AuthorizationCode | None:
        with self.lock:
            item = self.codes.get(code)
        if item is None or item.client_id != client_id or item.expires_at <= time.time():
            return None
        return item

    def delete_code(self, code: str) -> None:
        with self.lock:
            self.codes.pop(code, None)

    def add_token(self, token: IssuedToken) -> None:
        with self.lock:
            self.tokens[token.access_token] = token
            if token.refresh_token:
                self.refresh_index[token.refresh_token] = token.access_token

    def get_token(self, access_token: str) -> IssuedToken | None:
        with self.lock:
            return self.tokens.get(access_token)

    def get_by_refresh(self, refresh_token: str) -> IssuedToken | None:
        with self.lock:
            access = self.refresh_index.get(refresh_token)
            token = self.tokens.get(access) if access else None
        if token is None or token.refresh_revoked:
            return None
        if token.refresh_expires_at is not None and token.refresh_expires_at <= time.time():
            return None
        return token

    def revoke_refresh(self, refresh_token: str) -> None:
        with self.lock:
            access = self.refresh_index.pop(refresh_token, None)
            token = self.tokens.get(access) if access else None
            if token is not None:
                self.tokens[token.access_token] = replace(token, refresh_revoked=True)

    def new_consent_ticket(self, binding: str, lifetime_s: float) -> str:
        ticket = secrets.token_urlsafe(24)
        with self.lock:
            self.consent_tickets[ticket] = (binding, time.time() + lifetime_s)
        return ticket

    def use_consent_ticket(self, ticket: str, binding: str) -> bool:
        """Single use; bound to the authorization request it was shown for."""
        with self.lock:
            item = self.consent_tickets.pop(ticket, None)
        return item is not None and item[0] == binding and item[1] > time.time()

    def use_jti(self, issuer: str, jti: str, expires_at: float) -> bool:
        """False when this (iss, jti) was seen before and has not expired (replay)."""
        now = time.time()
        with self.lock:
            for key in [k for k, exp in self.seen_jti.items() if exp <= now]:
                del self.seen_jti[key]
            if (issuer, jti) in self.seen_jti:
                return False
            self.seen_jti[(issuer, jti)] = expires_at
            return True
