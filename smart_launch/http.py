"""The little HTTP smart_launch needs (discovery documents, JWKS, token endpoint), on httpx.

FHIR *data* never goes through here: the plugin's gateway does that with the tokens this
package obtains. Nothing here logs request or response bodies."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from smart_launch.errors import InsecureEndpoint, SmartDiscoveryError

DEFAULT_TIMEOUT_S = 10.0
USER_AGENT = "deepdr-fhir-smart-launch/0.1"
JSON_ACCEPT = "application/json"

Clock = Callable[[], float]
"""Seconds since the epoch; injected so tests can move time."""


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_secure_url(url: str, what: str, *, allow_loopback_http: bool = True) -> str:
    """SMART: secrets travel only over TLS. Plain http is accepted for loopback hosts only
    (local test servers), and only when `allow_loopback_http`."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InsecureEndpoint(f"{what} is not a valid URL") from exc
    if not parts.scheme or not parts.netloc:
        raise InsecureEndpoint(f"{what} is not an absolute URL")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and allow_loopback_http and is_loopback_host(parts.hostname):
        return url
    raise InsecureEndpoint(f"{what} must use https (got scheme {parts.scheme!r})")


def new_http_client(timeout_s: float = DEFAULT_TIMEOUT_S) -> httpx.Client:
    # Redirects are not followed: a discovery or token endpoint that redirects is refused
    # rather than letting credentials wander to another origin.
    return httpx.Client(
        timeout=timeout_s, follow_redirects=False, headers={"User-Agent": USER_AGENT}
    )


def get_json_object(
    http: httpx.Client, url: str, what: str, *, accept: str = JSON_ACCEPT
) -> tuple[int, dict[str, Any] | None]:
    """GET `url`; returns (status, JSON object or None when the body is not a JSON object).
    Transport failures become SmartDiscoveryError naming `what`, never the body."""
    try:
        response = http.get(url, headers={"Accept": accept})
    except httpx.TimeoutException as exc:
        raise SmartDiscoveryError(f"{what}: timed out") from exc
    except httpx.HTTPError as exc:
        raise SmartDiscoveryError(f"{what}: request failed ({type(exc).__name__})") from exc
    try:
        body = response.json()
    except ValueError:
        return response.status_code, None
    return response.status_code, body if isinstance(body, dict) else None


def post_form(
    http: httpx.Client,
    url: str,
    form: Mapping[str, str],
    headers: Mapping[str, str],
) -> httpx.Response:
    """POST application/x-www-form-urlencoded. Raises httpx errors to the caller, which maps
    them onto its own typed error (token vs refresh vs backend)."""
    return http.post(url, data=dict(form), headers={"Accept": JSON_ACCEPT, **headers})
