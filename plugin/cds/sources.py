"""Which fundus image sources a hook call is about, and the identity of each (pure).

A source unit is one FHIR resource holding images (a Media, a DocumentReference, an
ImagingStudy narrowed to the series/instances the facts name), as the image layer fetches
it. Its key (for plugin.store.image_sources) hashes the FHIR base, the reference and the
resource's version: meta.versionId when the server keeps versions, else the resource's own
content (without meta). Same key, same bytes: an edited Media or a study with new
instances is a new key and is fetched again.

Only current photographs count: acquired within `CURRENT_DAYS` (or undated); older ones
are history, not a screening result for today.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from models.clinical_facts import ImageRef, ImageSourceKind
from plugin.store.jsontext import canonical_json

CURRENT_DAYS = 365
MAX_SOURCES = 8  # the newest; a record with more is graded by the app, not in a hook


@dataclass(frozen=True)
class SourceUnit:
    key: str
    source_ref: str
    kind: ImageSourceKind
    resource: Mapping[str, Any]
    only_series: tuple[str, ...] | None = None
    only_instances: tuple[str, ...] | None = None
    laterality_hint: str | None = None
    acquired: date | None = None
    #: Every image's bytes are inside the resource (attachment `data`): reading them needs
    #: no server access.
    inline: bool = False


def is_inline(resource: Mapping[str, Any]) -> bool:
    rtype = resource.get("resourceType")
    if rtype == "Media":
        attachments = [resource.get("content")]
    elif rtype == "DocumentReference":
        contents = resource.get("content")
        attachments = (
            [c.get("attachment") for c in contents or [] if isinstance(c, Mapping)]
            if isinstance(contents, list)
            else []
        )
    else:
        return False
    return bool(attachments) and all(
        isinstance(a, Mapping) and isinstance(a.get("data"), str) and a.get("data")
        for a in attachments
    )


def _version_tag(resource: Mapping[str, Any]) -> dict[str, str]:
    meta = resource.get("meta")
    version = meta.get("versionId") if isinstance(meta, Mapping) else None
    if isinstance(version, str) and version:
        return {"version": version}
    content = {k: v for k, v in resource.items() if k != "meta"}
    return {"content": hashlib.sha256(canonical_json(content).encode()).hexdigest()}


def source_key(
    fhir_base: str,
    source_ref: str,
    resource: Mapping[str, Any],
    only_series: Sequence[str] | None = None,
    only_instances: Sequence[str] | None = None,
) -> str:
    identity = {
        "base": fhir_base.rstrip("/"),
        "ref": source_ref,
        **_version_tag(resource),
        "series": sorted(only_series) if only_series is not None else None,
        "instances": sorted(only_instances) if only_instances is not None else None,
    }
    return hashlib.sha256(canonical_json(identity).encode()).hexdigest()


def current_units(
    fhir_base: str,
    images: Sequence[ImageRef],
    resources: Sequence[Mapping[str, Any]],
    today: date,
    *,
    current_days: int = CURRENT_DAYS,
    max_sources: int = MAX_SOURCES,
) -> list[SourceUnit]:
    """The source units of the current images, newest first, at most `max_sources`."""
    by_ref = {
        f"{r.get('resourceType')}/{r.get('id')}": r
        for r in resources
        if isinstance(r.get("resourceType"), str) and isinstance(r.get("id"), str)
    }
    cutoff = today - timedelta(days=current_days)
    grouped: dict[str, list[ImageRef]] = {}
    for ref in images:
        if ref.date is None or ref.date >= cutoff:
            grouped.setdefault(ref.source, []).append(ref)
    units: list[SourceUnit] = []
    for source, group in grouped.items():
        resource = by_ref.get(source)
        if resource is None:
            continue
        whole = any(r.series_uid is None and r.instance_uid is None for r in group)
        series = None if whole else tuple(sorted({r.series_uid for r in group if r.series_uid}))
        instances = (
            None
            if whole or any(r.instance_uid is None for r in group)
            else tuple(sorted({r.instance_uid for r in group if r.instance_uid}))
        )
        sides = {r.laterality for r in group if r.laterality in ("left", "right")}
        dates = [r.date for r in group if r.date is not None]
        units.append(
            SourceUnit(
                key=source_key(fhir_base, source, resource, series, instances),
                source_ref=source,
                kind=group[0].kind,
                resource=resource,
                only_series=series,
                only_instances=instances,
                laterality_hint=sides.pop() if len(sides) == 1 else None,
                acquired=max(dates) if dates else None,
                inline=is_inline(resource),
            )
        )
    units.sort(key=lambda u: (u.acquired or date.max, u.source_ref), reverse=True)
    return units[:max_sources]
