"""Fetching and caching CDS Clients' JWK Sets (RFC 7517) over HTTP.

Each URL's keys are cached for a TTL. A JWT naming a kid we do not hold triggers a refresh
(key rotation), at most once per `min_refresh_interval_s` per URL so that a stream of
tokens with made-up kids cannot make us hammer the client's server. Responses are size-
capped and redirects are not followed. If a refresh fails, the previous keys stay in use.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

log = logging.getLogger(__name__)


class JwksError(Exception):
    """The JWK Set could not be obtained or is not a JWK Set. Message safe to log."""


class JwksSource(Protocol):
    def keys(self, url: str, *, refresh: bool = False) -> list[dict[str, Any]]:
        """The JWKs published at `url`. `refresh=True` asks for a fresh copy (unknown kid);
        the source may decline when it refreshed very recently."""
        ...


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_jwks_url(url: str) -> str:
    """JWKS must come over https; plain http only from loopback (tests, local demo)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and is_loopback_url(url):
        return url
    raise ValueError("a JWKS URL must be https (http only on loopback)")


def parse_jwks(document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JwksError("not a JWK Set")
    return [k for k in document["keys"] if isinstance(k, dict)]


@dataclass
class _Entry:
    keys: list[dict[str, Any]] | None = None
    fetched_at: float = float("-inf")
    attempted_at: float = float("-inf")


class HttpJwksCache:
    """A JwksSource over httpx. Thread-safe."""

    def __init__(
        self,
        *,
        ttl_s: float = 300.0,
        min_refresh_interval_s: float = 30.0,
        timeout_s: float = 5.0,
        max_bytes: int = 64 * 1024,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_s
        self._min_refresh = min_refresh_interval_s
        self._max_bytes = max_bytes
        # No proxies from the environment and no redirects: a JWKS URL is allow-listed as is.
        self._client = client or httpx.Client(
            timeout=timeout_s, follow_redirects=False, trust_env=False
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._url_locks: dict[str, threading.Lock] = {}
        self._fetches: dict[str, int] = {}

    def keys(self, url: str, *, refresh: bool = False) -> list[dict[str, Any]]:
        check_jwks_url(url)
        with self._lock:
            entry = self._entries.setdefault(url, _Entry())
            url_lock = self._url_locks.setdefault(url, threading.Lock())
        with url_lock:
            now = self._clock()
            expired = now - entry.fetched_at >= self._ttl
            may_try = now - entry.attempted_at >= self._min_refresh
            if may_try and (entry.keys is None or expired or refresh):
                self._refresh(url, entry, now)
            if entry.keys is None:
                raise JwksError("JWK Set unavailable")
            return entry.keys

    def close(self) -> None:
        self._client.close()

    def fetch_count(self, url: str) -> int:
        """For diagnostics and tests: how many times `url` was successfully fetched."""
        return self._fetches.get(url, 0)

    def _refresh(self, url: str, entry: _Entry, now: float) -> None:
        entry.attempted_at = now
        try:
            entry.keys = self._download(url)
            entry.fetched_at = now
            self._fetches[url] = self._fetches.get(url, 0) + 1
        except JwksError as exc:
            # Keep serving the previous keys (if any) until a later refresh succeeds.
            log.warning("JWKS refresh failed (%s): %s", urlsplit(url).netloc, exc)

    def _download(self, url: str) -> list[dict[str, Any]]:
        try:
            with self._client.stream("GET", url, headers={"Accept": "application/json"}) as r:
                if r.status_code != 200:
                    raise JwksError(f"HTTP {r.status_code}")
                body = bytearray()
                for chunk in r.iter_bytes():
                    body += chunk
                    if len(body) > self._max_bytes:
                        raise JwksError("JWK Set too large")
        except httpx.HTTPError as exc:
            raise JwksError(type(exc).__name__) from None
        try:
            return parse_jwks(json.loads(body))
        except ValueError:
            raise JwksError("JWK Set is not JSON") from None
