"""The SMART App Launch flow (2.2) for one registered app: EHR launch (`iss` + `launch`) and
standalone launch (`launch/patient`), PKCE S256 always, `state` checked once, the code
exchanged for tokens, the id_token verified, and refresh before expiry.

Sessions are immutable: every step returns a new SmartSession that the caller persists
(SessionRepository). On any SmartAuthError from `complete_authorization`, discard the session:
its state has been spent."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx

from smart_launch.client_auth import ClientAuthenticator
from smart_launch.discovery import SmartConfiguration, discover, fhir_base
from smart_launch.errors import (
    AuthorizationDenied,
    IssuerMismatch,
    IssuerNotAllowed,
    RefreshFailed,
    SmartAuthError,
    StateMismatch,
    TokenExpired,
)
from smart_launch.http import Clock, new_http_client, require_secure_url
from smart_launch.id_token import IdTokenValidator, fhir_user_from_claims
from smart_launch.pkce import CODE_CHALLENGE_METHOD, PkcePair, check_verifier
from smart_launch.scopes import scopes_for_server
from smart_launch.session import PendingAuthorization, SmartSession, new_session_id
from smart_launch.token_endpoint import request_token
from smart_launch.tokens import (
    OAUTH_ERROR_MESSAGES,
    TokenResponse,
    TokenSet,
    token_set_from_response,
)

# Authorize-endpoint errors (RFC 6749 4.1.2.1) in words a clinician can act on.
_AUTHORIZE_ERROR_MESSAGES = {
    "invalid_scope": "The EHR refused the access this app asks for. "
    "Ask your EHR administrator to check the app's permissions.",
    "unauthorized_client": "The EHR does not allow this app to be launched this way.",
    "invalid_request": "The EHR rejected the app's sign-in request.",
    "server_error": "The EHR had a problem while signing you in. Please try again.",
    "temporarily_unavailable": "The EHR's sign-in service is busy. Please try again shortly.",
}


@dataclass(frozen=True)
class SmartAppConfig:
    """A registered app. `scopes` are written in v2 syntax (translated for v1-only servers);
    `launch` / `launch/patient` are added by the flow. `allowed_issuers` (FHIR base URLs)
    should be set in production: an EHR launch URL names its own `iss`, and an app must not
    follow a forged one to a counterfeit server."""

    client: ClientAuthenticator
    redirect_uri: str
    scopes: tuple[str, ...]
    standalone_context_scopes: tuple[str, ...] = ("launch/patient",)
    allowed_issuers: tuple[str, ...] | None = None
    refresh_margin_s: float = 60.0
    pending_ttl_s: float = 600.0
    discovery_ttl_s: float = 300.0
    allow_loopback_http: bool = True
    allow_unadvertised_pkce_legacy: bool = False


@dataclass(frozen=True)
class AuthorizationRequest:
    """Where to send the browser: `url` for a GET redirect, or `endpoint` + `params` for an
    auto-submitted POST form (servers advertising `authorize-post`)."""

    endpoint: str
    params: dict[str, str] = field(repr=False)

    @property
    def url(self) -> str:
        separator = "&" if "?" in self.endpoint else "?"
        return f"{self.endpoint}{separator}{urlencode(self.params)}"


@dataclass(frozen=True)
class LaunchStart:
    session: SmartSession
    authorization: AuthorizationRequest


class SmartLaunchClient:
    def __init__(
        self,
        app: SmartAppConfig,
        *,
        http: httpx.Client | None = None,
        clock: Clock = time.time,
    ) -> None:
        require_secure_url(
            app.redirect_uri, "redirect_uri", allow_loopback_http=app.allow_loopback_http
        )
        self.app = app
        self._http = http or new_http_client()
        self._clock = clock
        self._id_tokens = IdTokenValidator(
            self._http, clock, allow_loopback_http=app.allow_loopback_http
        )
        self._discovered: dict[str, tuple[float, SmartConfiguration]] = {}
        self._lock = threading.Lock()

    # -- discovery ------------------------------------------------------------------------

    def discover(self, iss: str) -> SmartConfiguration:
        base = fhir_base(iss)
        now = self._clock()
        with self._lock:
            cached = self._discovered.get(base)
        if cached is not None and now - cached[0] < self.app.discovery_ttl_s:
            return cached[1]
        config = discover(base, self._http, allow_loopback_http=self.app.allow_loopback_http)
        with self._lock:
            self._discovered[base] = (now, config)
        return config

    # -- step 2-4: launch and authorize ---------------------------------------------------

    def begin_ehr_launch(self, iss: str, launch: str) -> LaunchStart:
        """The EHR opened our launch URL with `iss` and `launch`."""
        if not launch:
            raise SmartAuthError("EHR launch without a launch parameter")
        return self._begin(iss, "ehr", ("launch",), launch)

    def begin_standalone_launch(self, iss: str) -> LaunchStart:
        """The user opened the app outside the EHR and chose the EHR `iss`."""
        return self._begin(iss, "standalone", self.app.standalone_context_scopes, None)

    def _begin(
        self, iss: str, kind: str, context_scopes: tuple[str, ...], launch: str | None
    ) -> LaunchStart:
        base = self._check_issuer(iss)
        config = self.discover(base)
        config.require_authorization_code(
            allow_unadvertised_legacy=self.app.allow_unadvertised_pkce_legacy
        )
        assert config.authorization_endpoint is not None  # checked just above
        scope = " ".join(scopes_for_server((*context_scopes, *self.app.scopes), config))
        pkce = PkcePair.generate()
        state = secrets.token_urlsafe(32)  # 256 bits; SMART asks for at least 122
        params = {
            "response_type": "code",
            "client_id": self.app.client.client_id,
            "redirect_uri": self.app.redirect_uri,
            "scope": scope,
            "state": state,
            "aud": base,
            "code_challenge": pkce.challenge,
            "code_challenge_method": CODE_CHALLENGE_METHOD,
        }
        if launch is not None:
            params["launch"] = launch
        now = self._clock()
        session = SmartSession(
            session_id=new_session_id(),
            iss=base,
            launch_kind="ehr" if kind == "ehr" else "standalone",
            client_id=self.app.client.client_id,
            config=config,
            requested_scope=scope,
            pending=PendingAuthorization(
                state=state,
                code_verifier=pkce.verifier,
                redirect_uri=self.app.redirect_uri,
                requested_scope=scope,
                launch=launch,
                created_at=now,
            ),
            created_at=now,
        )
        return LaunchStart(session, AuthorizationRequest(config.authorization_endpoint, params))

    def _check_issuer(self, iss: str) -> str:
        base = fhir_base(
            require_secure_url(iss, "iss", allow_loopback_http=self.app.allow_loopback_http)
        )
        allowed = self.app.allowed_issuers
        if allowed is not None and base not in {fhir_base(a) for a in allowed}:
            raise IssuerNotAllowed("launch names an iss that is not in allowed_issuers")
        return base

    # -- step 4 response and step 5: callback, code exchange --------------------------------

    def complete_authorization(
        self, session: SmartSession, callback: Mapping[str, str]
    ) -> SmartSession:
        """Handle the redirect back to `redirect_uri` (its query parameters)."""
        pending = self._check_state(session, callback.get("state"))
        self._check_response_issuer(session.config, callback.get("iss"))
        error = callback.get("error")
        if error:
            raise _authorize_error(error)
        code = callback.get("code")
        if not code:
            raise SmartAuthError("authorization response has neither code nor error")
        verifier = check_verifier(pending.code_verifier)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": pending.redirect_uri,
            "code_verifier": verifier,
        }
        parsed = self._token_request(session.config, form, SmartAuthError)
        tokens = self._token_set(session, parsed, pending.requested_scope, previous=None)
        return session.model_copy(update={"pending": None, "tokens": tokens})

    def _check_state(self, session: SmartSession, state: str | None) -> PendingAuthorization:
        pending = session.pending
        if pending is None:
            raise StateMismatch("no authorization is pending (already completed or replayed)")
        if not state or not hmac.compare_digest(state.encode(), pending.state.encode()):
            raise StateMismatch("state is missing or does not match this session")
        if self._clock() - pending.created_at > self.app.pending_ttl_s:
            raise StateMismatch("authorization request is too old")
        return pending

    @staticmethod
    def _check_response_issuer(config: SmartConfiguration, iss: str | None) -> None:
        # RFC 9207: when the server names itself in the response, it must be the issuer we
        # sent the user to (mix-up attack defence).
        if iss is not None and config.issuer is not None and iss != config.issuer:
            raise IssuerMismatch("authorization response iss is not the expected issuer")

    # -- step 7: refresh ---------------------------------------------------------------------

    def refresh(self, session: SmartSession) -> SmartSession:
        tokens = _require_tokens(session)
        if not tokens.refresh_token:
            if tokens.is_expired(self._clock()):
                raise TokenExpired("access token expired and there is no refresh token")
            raise RefreshFailed("no refresh token was granted")
        form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        parsed = self._token_request(session.config, form, RefreshFailed, user_messages={})
        fresh = self._token_set(session, parsed, tokens.scope, previous=tokens)
        return session.model_copy(update={"tokens": fresh})

    def ensure_fresh(self, session: SmartSession) -> SmartSession:
        """The same session while the token has more than `refresh_margin_s` left; otherwise
        a refreshed one. Raises TokenExpired / RefreshFailed when the user must relaunch."""
        tokens = _require_tokens(session)
        now = self._clock()
        if not tokens.expires_within(self.app.refresh_margin_s, now):
            return session
        if tokens.refresh_token:
            return self.refresh(session)
        if tokens.is_expired(now):
            raise TokenExpired("access token expired and there is no refresh token")
        return session

    # -- helpers -----------------------------------------------------------------------------

    def _token_request(
        self,
        config: SmartConfiguration,
        form: dict[str, str],
        error_cls: type[SmartAuthError],
        user_messages: Mapping[str, str] = OAUTH_ERROR_MESSAGES,
    ) -> TokenResponse:
        return request_token(
            self._http,
            config.token_endpoint,
            self.app.client,
            form,
            error_cls=error_cls,
            user_messages=user_messages,
            allow_loopback_http=self.app.allow_loopback_http,
        )

    def _token_set(
        self,
        session: SmartSession,
        parsed: TokenResponse,
        requested_scope: str,
        previous: TokenSet | None,
    ) -> TokenSet:
        fhir_user = None
        if parsed.id_token:
            claims = self._id_tokens.validate(parsed.id_token, session.config, session.client_id)
            fhir_user = fhir_user_from_claims(claims)
        return token_set_from_response(
            parsed,
            now=self._clock(),
            requested_scope=requested_scope,
            fhir_user=fhir_user,
            previous=previous,
        )

    def close(self) -> None:
        self._http.close()


def _require_tokens(session: SmartSession) -> TokenSet:
    if session.tokens is None:
        raise SmartAuthError("the session is not authorized yet")
    return session.tokens


def _authorize_error(code: str) -> SmartAuthError:
    if code == "access_denied":
        return AuthorizationDenied("authorization denied (access_denied)", error=code)
    return SmartAuthError(
        f"authorization failed ({code[:64]})",
        error=code,
        user_message=_AUTHORIZE_ERROR_MESSAGES.get(code),
    )
