"""The FHIR gateway: the one interface through which the application talks to a FHIR
server (Medplum's FhirRepository idea). `HttpFhirGateway` is the real one; an in-memory one
serves unit tests of logic. Nothing else in the application speaks HTTP to FHIR."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from plugin.fhir.errors import FhirRequestError

JSON = dict[str, Any]
SearchParams = Sequence[tuple[str, str]] | Mapping[str, str]
"""Search parameters; a list of pairs keeps repeated ones (`date=ge2020&date=lt2021`)."""

RESOURCE_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
RESOURCE_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_LOCATION = re.compile(
    r"(?:^|/)([A-Z][A-Za-z]{1,63})/([A-Za-z0-9\-.]{1,64})(?:/_history/([A-Za-z0-9\-.]{1,64}))?/?$"
)


@dataclass(frozen=True)
class SearchResult:
    resources: tuple[JSON, ...]  # entries with search.mode "match" (or no mode)
    included: tuple[JSON, ...] = ()  # _include / _revinclude entries
    total: int | None = None
    pages: int = 1
    truncated: bool = False  # stopped at max_pages with a next link left


@dataclass(frozen=True)
class CreateResult:
    resource: JSON
    created: bool  # False: If-None-Exist matched an existing resource

    @property
    def reference(self) -> str:
        return f"{self.resource['resourceType']}/{self.resource['id']}"


@dataclass(frozen=True)
class EntryResult:
    status: int
    resource_type: str | None = None
    id: str | None = None
    version_id: str | None = None

    @property
    def reference(self) -> str | None:
        return f"{self.resource_type}/{self.id}" if self.resource_type and self.id else None

    @property
    def created(self) -> bool:
        return self.status == 201


@dataclass(frozen=True)
class TransactionResult:
    bundle: JSON
    entries: tuple[EntryResult, ...]


class FhirGateway(Protocol):
    base_url: str

    def read(self, resource_type: str, resource_id: str) -> JSON: ...

    def search(
        self, resource_type: str, params: SearchParams = (), *, max_pages: int = 10
    ) -> SearchResult: ...

    def search_bundle(self, resource_type: str, params: SearchParams = ()) -> JSON: ...

    def create(self, resource: JSON, *, if_none_exist: str | None = None) -> CreateResult: ...

    def update(self, resource: JSON, *, if_match: str | None = None) -> JSON: ...

    def transaction(self, bundle: JSON) -> TransactionResult: ...

    def capabilities(self) -> JSON: ...


def parse_location(location: str) -> tuple[str, str, str | None] | None:
    """("Observation", "123", "2") from ".../Observation/123/_history/2"."""
    m = _LOCATION.search(location.split("?", 1)[0])
    return (m.group(1), m.group(2), m.group(3)) if m else None


def parse_status(value: object) -> int | None:
    """Bundle entry response status: "201 Created", "201" -> 201."""
    if not isinstance(value, str):
        return None
    head = value.strip().split(" ", 1)[0]
    return int(head) if head.isdigit() and len(head) == 3 else None


def normalise_params(params: SearchParams) -> list[tuple[str, str]]:
    pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
    out = []
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise FhirRequestError("search params must be (name, value) pairs")
        name, value = pair
        if not isinstance(name, str) or not name or not isinstance(value, str):
            raise FhirRequestError("search param names and values must be non-empty strings")
        out.append((name, value))
    return out
