"""Resolving a service's prefetch keys for one call, as CDS Hooks 2.0 prescribes:

- key present with a resource/Bundle -> use it (PROVIDED);
- key present with `null` -> the CDS Client has no data for it (NO_DATA): nothing to fetch;
- key present with an OperationOutcome -> the client tried and failed: fetch it ourselves
  if we can, else UNAVAILABLE;
- key absent -> the client chose not to (or could not) prefetch: fetch it from `fhirServer`
  with `fhirAuthorization`'s bearer token if we can, else UNAVAILABLE;
- a key the service declares required that ends UNAVAILABLE -> PrefetchUnavailable (412).

Nothing here speaks HTTP: fetching goes through an injected FhirFetcher (the plugin's is
backed by its FHIR gateway).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Protocol

from cds_hooks.errors import FetchError, PrefetchUnavailable
from cds_hooks.models import CdsRequest
from cds_hooks.templates import PrefetchTemplate, TokenUnresolvable

log = logging.getLogger(__name__)


class FhirFetcher(Protocol):
    """GET `{fhir_server}/{relative_url}` on the CDS Client's FHIR server."""

    def fetch(
        self, fhir_server: str, relative_url: str, access_token: str | None
    ) -> dict[str, Any] | None:
        """Return the resource, or for a search the complete searchset Bundle (following
        `next` links within the fetcher's limits, since prefetch data comes whole). Return
        None when the server says a read target does not exist (404/410). Raise FetchError
        for anything else (network, auth, 5xx, oversize)."""
        ...


class PrefetchStatus(StrEnum):
    PROVIDED = "provided"  # sent by the CDS Client in `prefetch`
    FETCHED = "fetched"  # fetched by this service from `fhirServer`
    NO_DATA = "no-data"  # the client sent null, or the server said the resource is absent
    UNAVAILABLE = "unavailable"  # could not be obtained


@dataclass(frozen=True)
class PrefetchItem:
    key: str
    status: PrefetchStatus
    resource: Mapping[str, Any] | None = None
    #: why the item is UNAVAILABLE, or that the client reported an error (safe to log).
    note: str | None = None

    @property
    def obtained(self) -> bool:
        return self.status is not PrefetchStatus.UNAVAILABLE


@dataclass(frozen=True)
class PrefetchData:
    """The resolved prefetch of one call, keyed like the service's templates."""

    items: Mapping[str, PrefetchItem]

    def __getitem__(self, key: str) -> PrefetchItem:
        return self.items[key]

    def __contains__(self, key: object) -> bool:
        return key in self.items

    def __iter__(self) -> Iterator[str]:
        return iter(self.items)

    def status(self, key: str) -> PrefetchStatus:
        return self.items[key].status

    def resource(self, key: str) -> Mapping[str, Any] | None:
        """The resource or Bundle for `key`; None when there is no data or none obtained."""
        return self.items[key].resource

    def resources(self, key: str, resource_type: str | None = None) -> list[Mapping[str, Any]]:
        """The resources for `key` as a list: a read gives [resource], a search gives its
        entries (search outcome entries left out), optionally filtered by type."""
        found = self.items[key].resource
        if found is None:
            return []
        if found.get("resourceType") == "Bundle":
            out = [
                e["resource"]
                for e in found.get("entry") or []
                if isinstance(e, Mapping)
                and isinstance(e.get("resource"), Mapping)
                and not (
                    isinstance(e.get("search"), Mapping) and e["search"].get("mode") == "outcome"
                )
            ]
        else:
            out = [found]
        return [r for r in out if resource_type is None or r.get("resourceType") == resource_type]


def is_error_outcome(value: Mapping[str, Any]) -> bool:
    """True for what a CDS Client sends when it could not satisfy a prefetch: an
    OperationOutcome, or a Bundle holding nothing but error OperationOutcomes."""
    if value.get("resourceType") == "OperationOutcome":
        return True
    if value.get("resourceType") != "Bundle":
        return False
    resources = [e.get("resource") for e in value.get("entry") or [] if isinstance(e, Mapping)]
    if not resources:
        return False
    return all(
        isinstance(r, Mapping)
        and r.get("resourceType") == "OperationOutcome"
        and any(
            isinstance(i, Mapping) and i.get("severity") in ("error", "fatal")
            for i in r.get("issue") or []
        )
        for r in resources
    )


def utc_today() -> date:
    return datetime.now(UTC).date()


class PrefetchResolver:
    """Resolves prefetch keys for calls; thread-safe; one instance per application."""

    def __init__(
        self,
        fetcher: FhirFetcher | None,
        *,
        allowed_fhir_servers: Collection[str] | None = None,
        fetch_without_authorization: bool = False,
        max_parallel_fetches: int = 4,
        today: Callable[[], date] = utc_today,
    ) -> None:
        self._fetcher = fetcher
        # A CDS Client chooses fhirServer; an allow-list stops a trusted-but-misconfigured
        # client from pointing this service at internal addresses.
        self._allowed = (
            None if allowed_fhir_servers is None else {u.rstrip("/") for u in allowed_fhir_servers}
        )
        self._without_auth = fetch_without_authorization
        self._max_parallel = max(1, max_parallel_fetches)
        self._today = today
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def resolve(
        self,
        templates: Mapping[str, PrefetchTemplate],
        required: Collection[str],
        request: CdsRequest,
    ) -> PrefetchData:
        provided = request.prefetch or {}
        items: dict[str, PrefetchItem] = {}
        to_fetch: dict[str, str | None] = {}  # key -> note about the client's attempt
        for key in templates:
            if key not in provided:
                to_fetch[key] = None
                continue
            value = provided[key]
            if value is None:
                items[key] = PrefetchItem(key, PrefetchStatus.NO_DATA)
            elif is_error_outcome(value):
                to_fetch[key] = "CDS Client reported an OperationOutcome"
            else:
                items[key] = PrefetchItem(key, PrefetchStatus.PROVIDED, value)
        if to_fetch:
            items.update(self._fetch_all(templates, to_fetch, request))
        missing = [k for k in required if not items[k].obtained]
        if missing:
            raise PrefetchUnavailable(missing)
        return PrefetchData({k: items[k] for k in templates})

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None

    # ------------------------------------------------------------------ internals

    def _why_not_fetch(self, request: CdsRequest) -> str | None:
        if self._fetcher is None:
            return "this service has no FHIR access configured"
        if request.fhir_server is None:
            return "no fhirServer in the request"
        if request.fhir_authorization is None and not self._without_auth:
            return "no fhirAuthorization in the request"
        if self._allowed is not None and request.fhir_server not in self._allowed:
            return "fhirServer is not on this service's allow-list"
        return None

    def _fetch_all(
        self,
        templates: Mapping[str, PrefetchTemplate],
        to_fetch: Mapping[str, str | None],
        request: CdsRequest,
    ) -> dict[str, PrefetchItem]:
        why_not = self._why_not_fetch(request)
        if why_not is not None:
            return {
                k: PrefetchItem(k, PrefetchStatus.UNAVAILABLE, note=_join(note, why_not))
                for k, note in to_fetch.items()
            }
        today = self._today()
        urls: dict[str, str] = {}
        out: dict[str, PrefetchItem] = {}
        for key, note in to_fetch.items():
            try:
                urls[key] = templates[key].render(request.context, today)
            except TokenUnresolvable as exc:
                out[key] = PrefetchItem(key, PrefetchStatus.UNAVAILABLE, note=_join(note, str(exc)))
        if len(urls) == 1:
            ((key, url),) = urls.items()
            out[key] = self._fetch_one(key, url, request, to_fetch[key])
        elif urls:
            pool = self._executor()
            futures = {
                key: pool.submit(self._fetch_one, key, url, request, to_fetch[key])
                for key, url in urls.items()
            }
            out.update({key: f.result() for key, f in futures.items()})
        return out

    def _fetch_one(self, key: str, url: str, request: CdsRequest, note: str | None) -> PrefetchItem:
        assert self._fetcher is not None and request.fhir_server is not None
        try:
            found = self._fetcher.fetch(request.fhir_server, url, request.access_token)
        except FetchError as exc:
            log.warning("prefetch %r: fetch failed: %s", key, exc)
            return PrefetchItem(key, PrefetchStatus.UNAVAILABLE, note=_join(note, "fetch failed"))
        if found is None:
            return PrefetchItem(key, PrefetchStatus.NO_DATA, note=note)
        return PrefetchItem(key, PrefetchStatus.FETCHED, found, note=note)

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self._max_parallel, thread_name_prefix="cds-prefetch"
                )
            return self._pool


def _join(first: str | None, second: str) -> str:
    return f"{first}; {second}" if first else second
