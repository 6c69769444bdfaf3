"""Reaching the CDS Client's FHIR server with the hook's own token: prefetch fetches
(cds_hooks' FhirFetcher) and the image layer's reads, both through plugin.fhir's gateway.

The token arrives in the hook's fhirAuthorization and lives only as long as the call: it is
captured in a closure for the gateway's Authorization header and never stored, logged or
put in a job. One pooled HTTP transport per process is shared by every call's gateway
(building an httpx client per call would rebuild TLS contexts and connections each time).
Every read is audited (plugin.observability.audit) as the hook's user.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from cds_hooks.errors import FetchError
from plugin.fhir.errors import FhirError, FhirNotFound
from plugin.fhir.gateway import RESOURCE_ID, RESOURCE_TYPE, FhirGateway
from plugin.fhir.http_gateway import HttpFhirGateway
from plugin.observability.audit import AuditingGateway, AuditSink

log = logging.getLogger(__name__)

MAX_PREFETCH_PAGES = 20


class KeepOpenTransport(httpx.BaseTransport):
    """A shared transport that per-call clients may "close" without closing the pool."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._inner.handle_request(request)

    def close(self) -> None:
        pass

    def shutdown(self) -> None:
        self._inner.close()


class HookFhirAccess:
    """Builds gateways to a hook's FHIR server with the hook's token."""

    def __init__(
        self,
        audit: AuditSink | None,
        *,
        timeout_s: float = 10.0,
        max_retries: int = 1,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._audit = audit
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._transport = KeepOpenTransport(
            transport or httpx.HTTPTransport(limits=httpx.Limits(max_connections=32))
        )

    @property
    def transport(self) -> httpx.BaseTransport:
        """The shared pool, for the image layer's own client (closing that is a no-op)."""
        return self._transport

    def gateway(self, fhir_server: str, access_token: str | None, actor: str) -> FhirGateway:
        token: Callable[[], str | None] = lambda: access_token  # noqa: E731 (closure, not stored)
        inner = HttpFhirGateway(
            fhir_server,
            token=token,
            timeout_s=self._timeout_s,
            max_retries=self._max_retries,
            transport=self._transport,
        )
        return AuditingGateway(inner, self._audit, actor) if self._audit is not None else inner

    def close(self) -> None:
        self._transport.shutdown()


class GatewayFhirFetcher:
    """cds_hooks.prefetch.FhirFetcher over the gateway: a read gives the resource (None on
    404/410), a search gives one searchset Bundle holding every page's entries."""

    def __init__(self, access: HookFhirAccess, actor: str = "cds-hooks") -> None:
        self._access = access
        self._actor = actor

    def fetch(
        self, fhir_server: str, relative_url: str, access_token: str | None
    ) -> dict[str, Any] | None:
        path, _, query = relative_url.partition("?")
        parts = [p for p in path.split("/") if p]
        gateway = self._access.gateway(fhir_server, access_token, self._actor)
        try:
            if len(parts) == 2 and not query:
                rtype, rid = parts
                if not (RESOURCE_TYPE.match(rtype) and RESOURCE_ID.match(rid)):
                    raise FetchError("not a FHIR read URL")
                try:
                    return gateway.read(rtype, rid)
                except FhirNotFound:
                    return None
            if len(parts) == 1 and RESOURCE_TYPE.match(parts[0]):
                params = parse_qsl(query, keep_blank_values=True)
                found = gateway.search(parts[0], params, max_pages=MAX_PREFETCH_PAGES)
                if found.truncated:
                    raise FetchError(f"{parts[0]} search has more pages than allowed")
                entries = [{"resource": r, "search": {"mode": "match"}} for r in found.resources]
                entries += [{"resource": r, "search": {"mode": "include"}} for r in found.included]
                return {
                    "resourceType": "Bundle",
                    "type": "searchset",
                    "total": len(found.resources),
                    "entry": entries,
                }
            raise FetchError("prefetch URL is neither a read nor a type search")
        except FhirError as exc:
            status = f" (HTTP {exc.status})" if exc.status else ""
            raise FetchError(f"FHIR {type(exc).__name__}{status}") from None


def same_server(a: str | None, b: str | None) -> bool:
    """Whether two FHIR base URLs name the same server (scheme, host, port, path)."""
    if not a or not b:
        return False
    pa, pb = urlsplit(a.rstrip("/")), urlsplit(b.rstrip("/"))
    return (pa.scheme.lower(), (pa.hostname or "").lower(), pa.port, pa.path) == (
        pb.scheme.lower(),
        (pb.hostname or "").lower(),
        pb.port,
        pb.path,
    )
