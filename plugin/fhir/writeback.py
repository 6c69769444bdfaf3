"""Send a write-back (fhir_mappers.outbound.WriteBundle) through a gateway.

Default: one transaction. Some servers cap the size of a transaction that contains
conditional creates (Medplum 4.5 refuses more than 8 entries: it runs them with strict
isolation); with `max_entries` set, the write is split into several transactions in
dependency order (Devices, then what references them, ...), and each later transaction
references what the earlier ones created by its server id. Every entry stays a conditional
create, so a retry after a failure anywhere completes the write without duplicating
anything; only atomicity across the parts is lost, which is why one transaction is the
default.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from fhir_mappers.outbound import WriteBundle
from plugin.fhir.errors import FhirProtocolError, FhirRequestError
from plugin.fhir.gateway import JSON, FhirGateway


@dataclass(frozen=True)
class WriteResult:
    """Per entry name ("diagnostic-report", "observation/right/dr-severity", ...): the
    server reference, and whether this write created it (False: it existed already)."""

    references: dict[str, str]
    created: dict[str, bool]
    transactions: int

    @property
    def created_count(self) -> int:
        return sum(self.created.values())


def write(
    gateway: FhirGateway, written: WriteBundle, *, max_entries: int | None = None
) -> WriteResult:
    entries: list[JSON] = written.bundle["entry"]
    names = [b.name for b in written.entries]
    if max_entries is not None and max_entries < 1:
        raise FhirRequestError("max_entries must be at least 1")
    if max_entries is None or len(entries) <= max_entries:
        batches = [list(range(len(entries)))]
    else:
        batches = [
            level[i : i + max_entries]
            for level in dependency_levels(entries)
            for i in range(0, len(level), max_entries)
        ]
    resolved: dict[str, str] = {}  # fullUrl -> "Type/id"
    references: dict[str, str] = {}
    created: dict[str, bool] = {}
    for batch in batches:
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [_rewrite(entries[i], resolved) for i in batch],
        }
        result = gateway.transaction(bundle)
        for i, entry_result in zip(batch, result.entries, strict=True):
            ref = entry_result.reference
            if ref is None:
                raise FhirProtocolError(
                    "transaction: the server did not say where it stored an entry"
                )
            resolved[entries[i]["fullUrl"]] = ref
            references[names[i]] = ref
            created[names[i]] = entry_result.created
    return WriteResult(references, created, len(batches))


def dependency_levels(entries: list[JSON]) -> list[list[int]]:
    """Group entry indexes so that every entry comes after the entries whose fullUrl it
    references. Raises on a reference cycle (which one transaction could resolve, but a
    split write cannot)."""
    urls = {e["fullUrl"]: i for i, e in enumerate(entries)}
    deps = [
        {urls[r] for r in _references(e["resource"]) if r in urls and urls[r] != i}
        for i, e in enumerate(entries)
    ]
    levels: list[list[int]] = []
    done: set[int] = set()
    while len(done) < len(entries):
        level = [i for i in range(len(entries)) if i not in done and deps[i] <= done]
        if not level:
            raise FhirRequestError("the write has a reference cycle; it cannot be split")
        levels.append(level)
        done.update(level)
    return levels


def _rewrite(entry: JSON, resolved: dict[str, str]) -> JSON:
    if not resolved:
        return entry
    out = copy.deepcopy(entry)
    _replace_references(out["resource"], resolved)
    return out


def _replace_references(node: Any, resolved: dict[str, str]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "reference" and isinstance(v, str) and v in resolved:
                node[k] = resolved[v]
            else:
                _replace_references(v, resolved)
    elif isinstance(node, list):
        for v in node:
            _replace_references(v, resolved)


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        out = []
        for k, v in node.items():
            if k == "reference" and isinstance(v, str):
                out.append(v)
            else:
                out += _references(v)
        return out
    if isinstance(node, list):
        return [r for v in node for r in _references(v)]
    return []
