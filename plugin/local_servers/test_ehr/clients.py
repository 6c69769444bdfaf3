"""The client registry as authlib sees it (ClientMixin), with SMART scope matching: a request
for `patient/Observation.rs` is allowed by a registration of `patient/*.cruds`."""

from __future__ import annotations

import hmac
import threading
import time
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from plugin.local_servers.test_ehr.config import RegisteredClient
from smart_launch.scopes import parse_resource_scope, split_scope

JWKS_CACHE_S = 300.0


def scope_allowed(requested: str, allowed: tuple[str, ...]) -> bool:
    if requested in allowed:
        return True
    want = parse_resource_scope(requested)
    if want is None:
        return False
    for item in allowed:
        have = parse_resource_scope(item)
        if (
            have is not None
            and have.context == want.context
            and have.resource_type in ("*", want.resource_type)
            and want.interactions <= have.interactions
            and (have.query is None or have.query == want.query)
        ):
            return True
    return False


class EhrClient:
    """authlib ClientMixin over a RegisteredClient."""

    def __init__(self, registered: RegisteredClient, jwks_fetcher: JwksFetcher) -> None:
        self.registered = registered
        self._jwks_fetcher = jwks_fetcher
        self._allowed = split_scope(registered.scope)

    @property
    def client_id(self) -> str:
        return self.registered.client_id

    @property
    def jwks_uri(self) -> str | None:
        return self.registered.jwks_uri

    def get_client_id(self) -> str:
        return self.registered.client_id

    def get_default_redirect_uri(self) -> str | None:
        # SMART makes redirect_uri a required parameter: no default.
        return None

    def filter_scope(self, scope: str | None) -> str:
        return " ".join(s for s in split_scope(scope) if scope_allowed(s, self._allowed))

    def get_allowed_scope(self, scope: str | None) -> str:
        return self.filter_scope(scope)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.registered.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        secret = self.registered.client_secret
        return bool(secret) and hmac.compare_digest(
            client_secret.encode("utf-8"), str(secret).encode("utf-8")
        )

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.registered.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.registered.grant_types

    def public_keys(self) -> KeySet:
        if self.registered.jwks is not None:
            return KeySet.import_key_set(self.registered.jwks)  # type: ignore[arg-type]
        assert self.registered.jwks_uri is not None  # enforced by RegisteredClient
        return self._jwks_fetcher.get(self.registered.jwks_uri)


class JwksFetcher:
    """Fetches registered JWKS URLs (`Accept: application/json`), caching for a while."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http
        self._cache: dict[str, tuple[float, KeySet]] = {}
        self._lock = threading.Lock()

    def get(self, url: str) -> KeySet:
        now = time.time()
        with self._lock:
            cached = self._cache.get(url)
        if cached is not None and now - cached[0] < JWKS_CACHE_S:
            return cached[1]
        try:
            response = self._http.get(url, headers={"Accept": "application/json"})
            document: Any = response.json() if response.status_code == 200 else None
            keys = KeySet.import_key_set(document)
        except (httpx.HTTPError, ValueError, TypeError, KeyError, JoseError) as exc:
            raise LookupError("client JWKS could not be fetched") from exc
        with self._lock:
            self._cache[url] = (now, keys)
        return keys


class ClientRegistry:
    def __init__(self, clients: tuple[RegisteredClient, ...], http: httpx.Client) -> None:
        fetcher = JwksFetcher(http)
        self._clients = {c.client_id: EhrClient(c, fetcher) for c in clients}

    def query_client(self, client_id: str | None) -> EhrClient | None:
        if not isinstance(client_id, str):
            return None
        return self._clients.get(client_id)

    def all(self) -> list[EhrClient]:
        return list(self._clients.values())
