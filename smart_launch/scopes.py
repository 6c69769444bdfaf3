"""SMART scopes: v2 (`patient/Observation.rs`) and v1 (`patient/Observation.read`) syntax.

Requests are written in v2 and translated to v1 when the server only speaks v1. Granted scopes
(which may be fewer than requested) are parsed into a `GrantedScopes` the app asks questions
of (`can_read("Observation")`, `can_write("DiagnosticReport")`) so it can degrade gracefully.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from smart_launch.discovery import SmartConfiguration

Context = Literal["patient", "user", "system"]
ScopeVersion = Literal["v1", "v2"]

V2_ORDER = "cruds"
_V1_TO_V2 = {"read": "rs", "write": "cud", "*": "cruds"}
_RESOURCE_SCOPE_RE = re.compile(
    r"^(?P<context>patient|user|system)/(?P<type>\*|[A-Z][A-Za-z]+)"
    r"\.(?P<perm>\*|read|write|[cruds]+)(?:\?(?P<query>.+))?$"
)


@dataclass(frozen=True)
class ResourceScope:
    """One parsed clinical scope, in v2 terms whatever syntax it came in."""

    context: Context
    resource_type: str  # a FHIR type or "*"
    interactions: frozenset[str]  # subset of {"c","r","u","d","s"}
    query: str | None  # v2 finer-grained constraint (`?category=...`), None if unconstrained
    version: ScopeVersion

    def covers(self, resource_type: str, interaction: str) -> bool:
        return interaction in self.interactions and self.resource_type in ("*", resource_type)


def parse_resource_scope(scope: str) -> ResourceScope | None:
    """Parse `patient/Observation.rs`, `user/*.cruds`, `patient/Observation.read`, ...
    Returns None for non-clinical scopes (openid, launch, ...) and for malformed ones: the
    spec lets servers ignore undefined or out-of-order permissions (`.dus`), and a client
    must not read more into them than they say."""
    match = _RESOURCE_SCOPE_RE.match(scope)
    if match is None:
        return None
    perm = match["perm"]
    query = match["query"]
    if perm in _V1_TO_V2:
        if query is not None:
            return None  # v1 has no query constraints
        letters, version = _V1_TO_V2[perm], "v1"
    else:
        if not _is_ordered_subset(perm):
            return None
        letters, version = perm, "v2"
    return ResourceScope(
        context=match["context"],  # type: ignore[arg-type]
        resource_type=match["type"],
        interactions=frozenset(letters),
        query=query,
        version=version,  # type: ignore[arg-type]
    )


def _is_ordered_subset(perm: str) -> bool:
    position = -1
    for letter in perm:
        index = V2_ORDER.find(letter)
        if index <= position:
            return False
        position = index
    return True


def split_scope(scope: str | None) -> tuple[str, ...]:
    """A space-separated scope string as a tuple, order kept, duplicates dropped."""
    seen: dict[str, None] = {}
    for item in (scope or "").split():
        seen.setdefault(item, None)
    return tuple(seen)


def v2_to_v1(scope: str) -> tuple[str, ...]:
    """Translate one v2 clinical scope to v1. v1 cannot say `create only` or `search only`:
    any write letter becomes `.write`, any read letter `.read`, all five `.*`. A v2 query
    constraint cannot be expressed and is dropped, which widens the request; the server's
    grant, not the request, is what the app then relies on. Other scopes pass unchanged."""
    parsed = parse_resource_scope(scope)
    if parsed is None or parsed.version == "v1":
        return (scope,)
    prefix = f"{parsed.context}/{parsed.resource_type}"
    if parsed.interactions == frozenset(V2_ORDER):
        return (f"{prefix}.*",)
    out: list[str] = []
    if parsed.interactions & {"r", "s"}:
        out.append(f"{prefix}.read")
    if parsed.interactions & {"c", "u", "d"}:
        out.append(f"{prefix}.write")
    return tuple(out)


def server_scope_version(config: SmartConfiguration) -> ScopeVersion:
    """Which syntax to request. `permission-v2` in capabilities means v2. Without it, a server
    that advertises `permission-v1`, or lists only v1-style clinical scopes in
    scopes_supported, gets v1. Otherwise v2 (the syntax of SMART 2.x)."""
    if config.has_capability("permission-v2"):
        return "v2"
    if config.has_capability("permission-v1"):
        return "v1"
    parsed = [p for p in map(parse_resource_scope, config.scopes_supported) if p is not None]
    if parsed and all(p.version == "v1" for p in parsed):
        return "v1"
    if config.source == "capability-statement" and not parsed:
        return "v1"  # legacy discovery predates v2 syntax
    return "v2"


def scopes_for_server(requested_v2: Iterable[str], config: SmartConfiguration) -> tuple[str, ...]:
    """The scope list to send to this server: as written (v2) or translated to v1."""
    requested = split_scope(" ".join(requested_v2))
    if server_scope_version(config) == "v2":
        return requested
    out: dict[str, None] = {}
    for scope in requested:
        for translated in v2_to_v1(scope):
            out.setdefault(translated, None)
    return tuple(out)


@dataclass(frozen=True)
class GrantedScopes:
    """The scopes a token actually carries, parsed once."""

    scopes: tuple[str, ...]

    @classmethod
    def parse(cls, scope: str | None) -> GrantedScopes:
        return cls(split_scope(scope))

    @property
    def text(self) -> str:
        return " ".join(self.scopes)

    @property
    def resource_scopes(self) -> tuple[ResourceScope, ...]:
        return tuple(p for p in map(parse_resource_scope, self.scopes) if p is not None)

    def has(self, scope: str) -> bool:
        return scope in self.scopes

    def allows(
        self,
        resource_type: str,
        interaction: str,
        *,
        context: Context | None = None,
        unconstrained_only: bool = False,
    ) -> bool:
        """True when some granted scope permits `interaction` (one of c r u d s) on
        `resource_type`, optionally in one context (patient/user/system). Scopes with a
        query constraint grant only part of the type; `unconstrained_only` ignores them."""
        if interaction not in V2_ORDER or len(interaction) != 1:
            raise ValueError(f"interaction must be one of {V2_ORDER!r}")
        return any(
            p.covers(resource_type, interaction)
            and (context is None or p.context == context)
            and not (unconstrained_only and p.query is not None)
            for p in self.resource_scopes
        )

    def can_read(self, resource_type: str) -> bool:
        return self.allows(resource_type, "r")

    def can_search(self, resource_type: str) -> bool:
        return self.allows(resource_type, "s")

    def can_create(self, resource_type: str) -> bool:
        return self.allows(resource_type, "c")

    def can_update(self, resource_type: str) -> bool:
        return self.allows(resource_type, "u")

    def can_write(self, resource_type: str) -> bool:
        """Create and update: what writing a result back and amending it needs."""
        return self.can_create(resource_type) and self.can_update(resource_type)

    @property
    def has_identity(self) -> bool:
        return self.has("openid") and self.has("fhirUser")

    @property
    def has_refresh(self) -> bool:
        return self.has("offline_access") or self.has("online_access")

    def missing_from(self, requested: Iterable[str]) -> tuple[str, ...]:
        """Requested scopes that were not granted verbatim (for telling the user what is
        unavailable). Clinical scopes granted in another form (e.g. `.rs` as `.r .s`, or v1
        `.read`) count as granted when every interaction they asked for is covered."""
        missing: list[str] = []
        for scope in split_scope(" ".join(requested)):
            if self.has(scope):
                continue
            parsed = parse_resource_scope(scope)
            if parsed is not None and parsed.query is None:
                covered = all(
                    any(
                        g.context == parsed.context
                        and g.query is None
                        and g.covers(parsed.resource_type, letter)
                        for g in self.resource_scopes
                    )
                    for letter in parsed.interactions
                )
                if covered:
                    continue
            missing.append(scope)
        return tuple(missing)
