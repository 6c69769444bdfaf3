"""An in-memory FHIR gateway for unit tests of logic (workflow, CDS services). Integration
tests use the real server; this one implements just enough of the same contract: read,
create / conditional create, update, transaction (all or nothing, conditional creates,
urn:uuid references rewritten), and search on _id, identifier, _tag, subject/patient with
_count paging. An unsupported search parameter is an error here, so tests notice."""

from __future__ import annotations

import copy
import uuid
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote

from plugin.fhir.errors import FhirConflict, FhirInvalid, FhirNotFound, FhirRequestError
from plugin.fhir.gateway import (
    JSON,
    RESOURCE_ID,
    RESOURCE_TYPE,
    CreateResult,
    EntryResult,
    FhirGateway,
    SearchParams,
    SearchResult,
    TransactionResult,
    normalise_params,
)

SUPPORTED_PARAMS = frozenset({"_id", "identifier", "_tag", "subject", "patient", "_count"})


class InMemoryFhirGateway:
    def __init__(self, base_url: str = "memory://fhir") -> None:
        self.base_url = base_url
        self._store: dict[str, dict[str, JSON]] = {}
        self.requests: list[str] = []  # interaction log, for assertions in tests

    def capabilities(self) -> JSON:
        return {"resourceType": "CapabilityStatement", "status": "active", "fhirVersion": "4.0.1"}

    def read(self, resource_type: str, resource_id: str) -> JSON:
        self.requests.append(f"read {resource_type}")
        found = self._store.get(resource_type, {}).get(resource_id)
        if found is None:
            raise FhirNotFound(f"FHIR read {resource_type} failed", 404, "Not found")
        return copy.deepcopy(found)

    def search_bundle(self, resource_type: str, params: SearchParams = ()) -> JSON:
        result = self.search(resource_type, params, max_pages=1)
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": result.total,
            "entry": [{"resource": r, "search": {"mode": "match"}} for r in result.resources],
        }

    def search(
        self, resource_type: str, params: SearchParams = (), *, max_pages: int = 10
    ) -> SearchResult:
        self.requests.append(f"search {resource_type}")
        pairs = normalise_params(params)
        count = next((int(v) for k, v in pairs if k == "_count" and v.isdigit()), None)
        matches = self._match(resource_type, [(k, v) for k, v in pairs if k != "_count"])
        total = len(matches)
        if count and count > 0:
            pages = max(1, -(-total // count))
            shown = min(pages, max_pages)
            return SearchResult(
                tuple(matches[: shown * count]), (), total, shown, truncated=pages > max_pages
            )
        return SearchResult(tuple(matches), (), total, 1, False)

    def create(self, resource: JSON, *, if_none_exist: str | None = None) -> CreateResult:
        rtype = _type_of(resource)
        self.requests.append(f"create {rtype}")
        if if_none_exist:
            existing = self._match(rtype, parse_qsl(if_none_exist, keep_blank_values=True))
            if len(existing) > 1:
                raise FhirConflict(f"FHIR create {rtype} failed", 412, "Multiple matches")
            if existing:
                return CreateResult(existing[0], created=False)
        stored = self._put(rtype, str(uuid.uuid4()), resource)
        return CreateResult(copy.deepcopy(stored), created=True)

    def update(self, resource: JSON, *, if_match: str | None = None) -> JSON:
        rtype = _type_of(resource)
        rid = resource.get("id")
        if not isinstance(rid, str) or not RESOURCE_ID.match(rid):
            raise FhirRequestError("update needs a resource with a valid id")
        self.requests.append(f"update {rtype}")
        current = self._store.get(rtype, {}).get(rid)
        if if_match is not None and current is not None:
            if if_match.strip('W/"') != current["meta"]["versionId"]:
                raise FhirConflict(f"FHIR update {rtype} failed", 412, "Version mismatch")
        return copy.deepcopy(self._put(rtype, rid, resource))

    def transaction(self, bundle: JSON) -> TransactionResult:
        if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "transaction":
            raise FhirRequestError("transaction needs a Bundle of type 'transaction'")
        self.requests.append("transaction")
        saved = copy.deepcopy(self._store)
        try:
            return self._transaction(bundle.get("entry") or [])
        except Exception:
            self._store = saved
            raise

    # --- internals ------------------------------------------------------------------------
    def _transaction(self, entries: list[JSON]) -> TransactionResult:
        resolved: dict[str, str] = {}
        plan: list[tuple[JSON, str, str, bool]] = []
        for i, entry in enumerate(entries):
            request = entry.get("request") or {}
            resource = entry.get("resource")
            if request.get("method") != "POST" or not isinstance(resource, dict):
                raise FhirInvalid("FHIR transaction failed", 400, f"entry {i}: only POST here")
            rtype = _type_of(resource)
            rid, created = str(uuid.uuid4()), True
            condition = request.get("ifNoneExist")
            if condition:
                found = self._match(rtype, parse_qsl(condition, keep_blank_values=True))
                if len(found) > 1:
                    raise FhirConflict("FHIR transaction failed", 412, f"entry {i}: many matches")
                if found:
                    rid, created = found[0]["id"], False
            if entry.get("fullUrl"):
                resolved[entry["fullUrl"]] = f"{rtype}/{rid}"
            plan.append((resource, rtype, rid, created))
        results = []
        for resource, rtype, rid, created in plan:
            if created:
                body = copy.deepcopy(resource)
                _rewrite(body, resolved)
                self._put(rtype, rid, body)
            version = self._store[rtype][rid]["meta"]["versionId"]
            results.append(EntryResult(201 if created else 200, rtype, rid, version))
        response = {"resourceType": "Bundle", "type": "transaction-response", "entry": []}
        return TransactionResult(response, tuple(results))

    def _put(self, rtype: str, rid: str, resource: JSON) -> JSON:
        previous = self._store.get(rtype, {}).get(rid)
        version = int(previous["meta"]["versionId"]) + 1 if previous else 1
        stored = copy.deepcopy(resource)
        stored["id"] = rid
        stored["meta"] = {**stored.get("meta", {}), "versionId": str(version)}
        self._store.setdefault(rtype, {})[rid] = stored
        return stored

    def _match(self, rtype: str, pairs: list[tuple[str, str]]) -> list[JSON]:
        for name, _ in pairs:
            if name not in SUPPORTED_PARAMS:
                raise FhirInvalid(f"FHIR search {rtype} failed", 400, f"unsupported: {name}")
        out = []
        for resource in self._store.get(rtype, {}).values():
            if all(_matches(resource, name, unquote(value)) for name, value in pairs):
                out.append(copy.deepcopy(resource))
        return out


def _type_of(resource: JSON) -> str:
    rtype = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(rtype, str) or not RESOURCE_TYPE.match(rtype):
        raise FhirRequestError("resource has no valid resourceType")
    return rtype


def _token(codings: list[JSON], value: str, code_key: str) -> bool:
    system, _, code = value.rpartition("|") if "|" in value else (None, "", value)
    return any(
        c.get(code_key) == code and (system is None or c.get("system") == system) for c in codings
    )


def _matches(resource: JSON, name: str, value: str) -> bool:
    if name == "_id":
        return bool(resource.get("id") == value)
    if name == "identifier":
        return _token(resource.get("identifier", []), value, "value")
    if name == "_tag":
        return _token(resource.get("meta", {}).get("tag", []), value, "code")
    if name in ("subject", "patient"):
        return bool(resource.get("subject", {}).get("reference") == value)
    return False


def _rewrite(node: object, resolved: dict[str, str]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "reference" and isinstance(v, str) and v in resolved:
                node[k] = resolved[v]
            else:
                _rewrite(v, resolved)
    elif isinstance(node, list):
        for v in node:
            _rewrite(v, resolved)


if TYPE_CHECKING:  # both gateways satisfy the protocol (checked by mypy, not at run time)
    from plugin.fhir.http_gateway import HttpFhirGateway

    def _conforms(m: InMemoryFhirGateway, h: HttpFhirGateway) -> tuple[FhirGateway, ...]:
        return (m, h)
