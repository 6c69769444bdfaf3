"""HttpJwksCache over a fake httpx transport and a fake clock: TTL, refresh rate limit,
size cap, failures keep the previous keys."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from cds_hooks.jwks import HttpJwksCache, JwksError, check_jwks_url

URL = "https://ehr.example.org/jwks.json"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Server:
    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = [{"kty": "EC", "kid": "a"}]
        self.status = 200
        self.body: bytes | None = None
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if isinstance(self.status, Exception):
            raise self.status
        body = self.body if self.body is not None else json.dumps({"keys": self.keys}).encode()
        return httpx.Response(self.status, content=body)


def _cache(server: Server, clock: Clock, **kwargs: Any) -> HttpJwksCache:
    client = httpx.Client(transport=httpx.MockTransport(server))
    return HttpJwksCache(client=client, clock=clock, **kwargs)


def test_keys_are_cached_for_the_ttl() -> None:
    server, clock = Server(), Clock()
    cache = _cache(server, clock, ttl_s=300)
    assert cache.keys(URL)[0]["kid"] == "a"
    clock.now += 299
    cache.keys(URL)
    assert len(server.requests) == 1
    clock.now += 2
    server.keys = [{"kty": "EC", "kid": "b"}]
    assert cache.keys(URL)[0]["kid"] == "b"
    assert len(server.requests) == 2 and cache.fetch_count(URL) == 2


def test_refresh_for_unknown_kids_is_rate_limited() -> None:
    server, clock = Server(), Clock()
    cache = _cache(server, clock, min_refresh_interval_s=30)
    cache.keys(URL)
    for _ in range(5):
        cache.keys(URL, refresh=True)  # a flood of made-up kids
    assert len(server.requests) == 1
    clock.now += 30
    cache.keys(URL, refresh=True)
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, None),
        (302, None),
        (200, b"not json"),
        (200, b'{"no": "keys"}'),
        (200, json.dumps({"keys": [{"kid": "x" * 200}] * 100}).encode()),  # over the size cap
        (httpx.ConnectError("refused"), None),
    ],
)
def test_failures_without_previous_keys_raise(status: Any, body: bytes | None) -> None:
    server, clock = Server(), Clock()
    server.status, server.body = status, body
    cache = _cache(server, clock, max_bytes=4096)
    with pytest.raises(JwksError):
        cache.keys(URL)
    with pytest.raises(JwksError):
        cache.keys(URL)  # no new attempt within the refresh interval
    assert len(server.requests) == 1


def test_a_failed_refresh_keeps_the_previous_keys() -> None:
    server, clock = Server(), Clock()
    cache = _cache(server, clock, ttl_s=10, min_refresh_interval_s=5)
    cache.keys(URL)
    server.status = 503
    clock.now += 11
    assert cache.keys(URL)[0]["kid"] == "a"
    assert len(server.requests) == 2


def test_only_https_or_loopback_urls() -> None:
    check_jwks_url("https://ehr.example.org/jwks")
    check_jwks_url("http://127.0.0.1:9000/jwks")
    check_jwks_url("http://localhost/jwks")
    check_jwks_url("http://[::1]:8000/jwks")
    for bad in ("http://ehr.example.org/jwks", "file:///etc/passwd", "https:///x"):
        with pytest.raises(ValueError):
            check_jwks_url(bad)
    with pytest.raises(ValueError):
        _cache(Server(), Clock()).keys("http://10.0.0.1/jwks")
