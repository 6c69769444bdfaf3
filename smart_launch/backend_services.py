"""SMART Backend Services: client_credentials grant authenticated with a private_key_jwt
assertion, for background work with no user present (e.g. writing results back). The access
token is cached and reused until `refresh_margin_s` before it expires; no refresh token is
used (the spec says servers SHOULD NOT issue one)."""

from __future__ import annotations

import threading
import time

import httpx

from smart_launch.client_auth import AsymmetricClient
from smart_launch.discovery import SmartConfiguration, discover, fhir_base
from smart_launch.errors import SmartAuthError, SmartDiscoveryError
from smart_launch.http import Clock, new_http_client
from smart_launch.scopes import GrantedScopes, scopes_for_server
from smart_launch.token_endpoint import request_token
from smart_launch.tokens import TokenSet, token_set_from_response


class BackendAuthError(SmartAuthError):
    """The backend token request failed (bad key, unregistered client, refused scope)."""

    default_user_message = (
        "The app could not authorize its background connection to the EHR. "
        "Ask your administrator to check the backend-service registration."
    )


class BackendServicesClient:
    """`access_token()` returns a valid bearer token, requesting a new one when the cached
    one is within the margin of expiry. Thread-safe; one token request at a time."""

    def __init__(
        self,
        fhir_base_url: str,
        client: AsymmetricClient,
        scopes: tuple[str, ...],
        *,
        http: httpx.Client | None = None,
        clock: Clock = time.time,
        refresh_margin_s: float = 30.0,
        allow_loopback_http: bool = True,
    ) -> None:
        self.fhir_base_url = fhir_base(fhir_base_url)
        self._client = client
        self._scopes = scopes
        self._http = http or new_http_client()
        self._clock = clock
        self._margin_s = refresh_margin_s
        self._allow_loopback_http = allow_loopback_http
        self._config: SmartConfiguration | None = None
        self._tokens: TokenSet | None = None
        self._lock = threading.Lock()

    def configuration(self) -> SmartConfiguration:
        if self._config is None:
            config = discover(
                self.fhir_base_url, self._http, allow_loopback_http=self._allow_loopback_http
            )
            if config.grant_types_supported and (
                "client_credentials" not in config.grant_types_supported
            ):
                raise SmartDiscoveryError("server does not support the client_credentials grant")
            methods = config.token_endpoint_auth_methods_supported
            if methods and "private_key_jwt" not in methods:
                raise SmartDiscoveryError("server does not accept private_key_jwt")
            self._config = config
        return self._config

    def token(self) -> TokenSet:
        with self._lock:
            now = self._clock()
            if self._tokens is not None and not self._tokens.expires_within(self._margin_s, now):
                return self._tokens
            self._tokens = self._request()
            return self._tokens

    def access_token(self) -> str:
        """For a FHIR gateway's bearer-token callable."""
        return self.token().access_token

    def granted(self) -> GrantedScopes:
        return self.token().granted

    def invalidate(self) -> None:
        """Drop the cached token (e.g. after the FHIR server answered 401)."""
        with self._lock:
            self._tokens = None

    def _request(self) -> TokenSet:
        config = self.configuration()
        scope = " ".join(scopes_for_server(self._scopes, config))
        parsed = request_token(
            self._http,
            config.token_endpoint,
            self._client,
            {"grant_type": "client_credentials", "scope": scope},
            error_cls=BackendAuthError,
            user_messages={},
            allow_loopback_http=self._allow_loopback_http,
        )
        return token_set_from_response(parsed, now=self._clock(), requested_scope=scope)

    def close(self) -> None:
        self._http.close()
