"""FHIR gateway over HTTP (httpx): timeouts, bearer token, typed errors, paging.

- Every call has a timeout (per gateway, overridable per call).
- The bearer token comes from a callable, asked on every request, so a refreshed token is
  used as soon as it exists; it is never logged.
- Reads (read, search, capabilities) are retried on connect errors, 429 and 502/503/504,
  with exponential backoff (or the server's Retry-After, capped). Writes are not retried
  here: our write-back is idempotent by design, so the workflow decides.
- Search follows Bundle.link[next] (absolute or relative) up to a page cap, and refuses a
  next link to another origin or outside the base path, which would leak the token.
- Logs carry the interaction, resource type, status and time only: no URLs, ids, bodies.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from plugin.config import FhirSettings
from plugin.fhir.errors import (
    FhirError,
    FhirProtocolError,
    FhirRequestError,
    FhirTimeout,
    FhirTransactionError,
    FhirUnavailable,
    error_for_status,
    outcome_text,
)
from plugin.fhir.gateway import (
    JSON,
    RESOURCE_ID,
    RESOURCE_TYPE,
    CreateResult,
    EntryResult,
    SearchParams,
    SearchResult,
    TransactionResult,
    normalise_params,
    parse_location,
    parse_status,
)

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
USER_AGENT = "deepdr-fhir/0.1"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_RETRY_AFTER_S = 30.0
TokenProvider = Callable[[], str | None]


class HttpFhirGateway:
    def __init__(
        self,
        base_url: str,
        *,
        token: TokenProvider | None = None,
        timeout_s: float = 15.0,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        user_agent: str = USER_AGENT,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise FhirRequestError("FHIR base URL must be an http(s) URL without a query")
        if timeout_s <= 0 or max_retries < 0 or backoff_s < 0:
            raise FhirRequestError("timeout must be positive; retries and backoff not negative")
        self.base_url = base_url.rstrip("/")
        self._origin = _origin(self.base_url)
        self._base_path = urlsplit(self.base_url).path.rstrip("/")
        self._token = token
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._client = httpx.Client(
            transport=transport,
            headers={"Accept": FHIR_JSON, "User-Agent": user_agent},
            follow_redirects=False,
        )

    @classmethod
    def from_settings(
        cls, settings: FhirSettings, token: TokenProvider | None = None
    ) -> HttpFhirGateway:
        if not settings.base_url:
            raise FhirRequestError("no FHIR server configured (fhir.base_url)")
        return cls(settings.base_url, token=token, timeout_s=settings.timeout_s)

    # --- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpFhirGateway:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- interactions ---------------------------------------------------------------------
    def capabilities(self, *, timeout_s: float | None = None) -> JSON:
        resp = self._send("capabilities", "GET", f"{self.base_url}/metadata", None, timeout_s)
        return self._body(resp, "capabilities", "CapabilityStatement")

    def read(self, resource_type: str, resource_id: str, *, timeout_s: float | None = None) -> JSON:
        _check_type(resource_type)
        if not RESOURCE_ID.match(resource_id):
            raise FhirRequestError("resource id must be 1-64 letters, digits, '-' or '.'")
        url = f"{self.base_url}/{resource_type}/{resource_id}"
        resp = self._send("read", "GET", url, resource_type, timeout_s)
        return self._body(resp, f"read {resource_type}", resource_type)

    def search_bundle(
        self, resource_type: str, params: SearchParams = (), *, timeout_s: float | None = None
    ) -> JSON:
        """One page of a type search, as the server's Bundle."""
        _check_type(resource_type)
        pairs = normalise_params(params)
        url = f"{self.base_url}/{resource_type}"
        resp = self._send("search", "GET", url, resource_type, timeout_s, params=pairs)
        return self._searchset(resp, resource_type)

    def search(
        self,
        resource_type: str,
        params: SearchParams = (),
        *,
        max_pages: int = 10,
        timeout_s: float | None = None,
    ) -> SearchResult:
        """All pages up to `max_pages`, following Bundle.link[next]."""
        if max_pages < 1:
            raise FhirRequestError("max_pages must be at least 1")
        bundle = self.search_bundle(resource_type, params, timeout_s=timeout_s)
        total = bundle.get("total") if isinstance(bundle.get("total"), int) else None
        matches: list[JSON] = []
        included: list[JSON] = []
        pages = 1
        seen: set[str] = set()
        while True:
            _collect(bundle, matches, included)
            next_url = self._next_url(bundle)
            if next_url is None or next_url in seen:
                return SearchResult(tuple(matches), tuple(included), total, pages, False)
            if pages >= max_pages:
                return SearchResult(tuple(matches), tuple(included), total, pages, True)
            seen.add(next_url)
            resp = self._send("search-page", "GET", next_url, resource_type, timeout_s)
            bundle = self._searchset(resp, resource_type)
            pages += 1

    def create(
        self, resource: JSON, *, if_none_exist: str | None = None, timeout_s: float | None = None
    ) -> CreateResult:
        rtype = _resource_type_of(resource)
        headers = {"Content-Type": FHIR_JSON, "Prefer": "return=representation"}
        if if_none_exist is not None:
            if not if_none_exist or "\n" in if_none_exist or "\r" in if_none_exist:
                raise FhirRequestError("If-None-Exist must be a one-line search query")
            headers["If-None-Exist"] = if_none_exist
        resp = self._send(
            "create", "POST", f"{self.base_url}/{rtype}", rtype, timeout_s, resource, headers
        )
        created = resp.status_code == 201
        body = self._body(resp, f"create {rtype}", None)
        if body.get("resourceType") != rtype or not body.get("id"):
            # return=minimal servers: find the resource from Location.
            loc = parse_location(resp.headers.get("Location", ""))
            if loc is None or loc[0] != rtype:
                raise FhirProtocolError(f"create {rtype}: no resource and no usable Location")
            body = self.read(rtype, loc[1], timeout_s=timeout_s)
        return CreateResult(body, created)

    def update(
        self, resource: JSON, *, if_match: str | None = None, timeout_s: float | None = None
    ) -> JSON:
        rtype = _resource_type_of(resource)
        rid = resource.get("id")
        if not isinstance(rid, str) or not RESOURCE_ID.match(rid):
            raise FhirRequestError("update needs a resource with a valid id")
        headers = {"Content-Type": FHIR_JSON, "Prefer": "return=representation"}
        if if_match is not None:
            headers["If-Match"] = if_match
        url = f"{self.base_url}/{rtype}/{rid}"
        resp = self._send("update", "PUT", url, rtype, timeout_s, resource, headers)
        return self._body(resp, f"update {rtype}", rtype)

    def transaction(self, bundle: JSON, *, timeout_s: float | None = None) -> TransactionResult:
        if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "transaction":
            raise FhirRequestError("transaction needs a Bundle of type 'transaction'")
        headers = {"Content-Type": FHIR_JSON, "Prefer": "return=minimal"}
        resp = self._send("transaction", "POST", self.base_url, None, timeout_s, bundle, headers)
        body = self._body(resp, "transaction", "Bundle")
        if body.get("type") != "transaction-response":
            raise FhirProtocolError("transaction: the server did not answer a transaction-response")
        sent = bundle.get("entry") or []
        got = body.get("entry") or []
        if len(got) != len(sent):
            raise FhirProtocolError(f"transaction: {len(sent)} entries sent, {len(got)} answered")
        return TransactionResult(body, tuple(_entry_result(i, e) for i, e in enumerate(got)))

    # --- plumbing -------------------------------------------------------------------------
    def _send(
        self,
        interaction: str,
        method: str,
        url: str,
        resource_type: str | None,
        timeout_s: float | None,
        body: JSON | None = None,
        headers: dict[str, str] | None = None,
        params: list[tuple[str, str]] | None = None,
    ) -> httpx.Response:
        retry = method == "GET"
        timeout = httpx.Timeout(timeout_s if timeout_s is not None else self._timeout_s)
        what = f"{interaction} {resource_type}" if resource_type else interaction
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                resp = self._client.request(
                    method,
                    url,
                    params=tuple(params) if params else None,
                    json=body,
                    headers={**(headers or {}), **self._auth()},
                    timeout=timeout,
                )
            except httpx.ConnectTimeout as exc:
                if retry and attempt < self._max_retries:
                    attempt += 1
                    self._sleep(self._backoff(attempt, None))
                    continue
                raise FhirUnavailable(f"FHIR {what}: cannot connect to the server") from exc
            except httpx.TimeoutException as exc:
                raise FhirTimeout(f"FHIR {what}: no answer within the timeout") from exc
            except httpx.TransportError as exc:
                if retry and attempt < self._max_retries:
                    attempt += 1
                    self._sleep(self._backoff(attempt, None))
                    continue
                raise FhirUnavailable(f"FHIR {what}: cannot reach the server") from exc
            elapsed_ms = (time.monotonic() - started) * 1000
            log.debug("FHIR %s -> %s in %.0f ms", what, resp.status_code, elapsed_ms)
            if retry and resp.status_code in RETRY_STATUSES and attempt < self._max_retries:
                attempt += 1
                self._sleep(self._backoff(attempt, resp.headers.get("Retry-After")))
                continue
            if resp.status_code >= 400:
                raise self._error(resp, what)
            return resp

    def _auth(self) -> dict[str, str]:
        if self._token is None:
            return {}
        token = self._token()
        if not token:
            return {}
        if any(c in token for c in "\r\n "):
            raise FhirRequestError("the access token is malformed")
        return {"Authorization": f"Bearer {token}"}

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after.strip()), MAX_RETRY_AFTER_S)
        return float(min(self._backoff_s * (2 ** (attempt - 1)), MAX_RETRY_AFTER_S))

    @staticmethod
    def _error(resp: httpx.Response, what: str) -> FhirError:
        try:
            body: Any = resp.json()
        except ValueError:
            body = None
        cls = error_for_status(resp.status_code)
        return cls(f"FHIR {what} failed", resp.status_code, outcome_text(body))

    @staticmethod
    def _body(resp: httpx.Response, what: str, expected_type: str | None) -> JSON:
        if not resp.content:
            if expected_type is None:
                return {}
            raise FhirProtocolError(f"FHIR {what}: empty answer", resp.status_code)
        try:
            body = resp.json()
        except ValueError:
            raise FhirProtocolError(f"FHIR {what}: answer is not JSON", resp.status_code) from None
        if not isinstance(body, dict):
            raise FhirProtocolError(f"FHIR {what}: answer is not a FHIR resource", resp.status_code)
        if expected_type is not None and body.get("resourceType") != expected_type:
            raise FhirProtocolError(
                f"FHIR {what}: expected {expected_type}, got {body.get('resourceType')!r}",
                resp.status_code,
            )
        return body

    def _searchset(self, resp: httpx.Response, resource_type: str) -> JSON:
        bundle = self._body(resp, f"search {resource_type}", "Bundle")
        if bundle.get("type") != "searchset":
            raise FhirProtocolError(f"FHIR search {resource_type}: not a searchset Bundle")
        return bundle

    def _next_url(self, bundle: JSON) -> str | None:
        for link in bundle.get("link") or []:
            if isinstance(link, dict) and link.get("relation") == "next":
                url = link.get("url")
                if not isinstance(url, str) or not url:
                    return None
                absolute = urljoin(self.base_url + "/", url)
                path = urlsplit(absolute).path
                if _origin(absolute) != self._origin or not path.startswith(self._base_path):
                    raise FhirProtocolError(
                        "FHIR search: the server's next link points outside the FHIR base; "
                        "not followed"
                    )
                return absolute
        return None


def _check_type(resource_type: str) -> None:
    if not RESOURCE_TYPE.match(resource_type):
        raise FhirRequestError("resource type must be a FHIR type name like 'Observation'")


def _resource_type_of(resource: JSON) -> str:
    rtype = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(rtype, str):
        raise FhirRequestError("resource has no resourceType")
    _check_type(rtype)
    return rtype


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return (scheme, (parts.hostname or "").lower(), port)


def _collect(bundle: JSON, matches: list[JSON], included: list[JSON]) -> None:
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        mode = (entry.get("search") or {}).get("mode", "match")
        if mode == "match":
            matches.append(resource)
        elif mode == "include":
            included.append(resource)


def _entry_result(index: int, entry: JSON) -> EntryResult:
    response = entry.get("response") if isinstance(entry, dict) else None
    if not isinstance(response, dict):
        raise FhirProtocolError(f"transaction: entry {index} has no response")
    status = parse_status(response.get("status"))
    if status is None:
        raise FhirProtocolError(f"transaction: entry {index} has no valid status")
    if status >= 400:
        raise FhirTransactionError(
            f"FHIR transaction failed at entry {index}",
            status,
            outcome_text(response.get("outcome")),
            entry_index=index,
        )
    loc = parse_location(str(response.get("location") or ""))
    if loc is None:
        return EntryResult(status)
    return EntryResult(status, loc[0], loc[1], loc[2])
