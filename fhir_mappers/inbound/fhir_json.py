"""Defensive readers for FHIR JSON as real EHRs send it.

Every reader returns None (or an empty tuple) instead of raising when an element is missing
or has the wrong JSON type, so one malformed element never loses a whole record. Where the
spec says "array" and a sender wrote a single object, the object is accepted as a one-item
array (a common mistake in hand-built exports).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from fhir_mappers import codes

JsonObj = Mapping[str, Any]


def obj(parent: Any, key: str) -> JsonObj | None:
    """`parent[key]` when both are JSON objects."""
    if not isinstance(parent, Mapping):
        return None
    v = parent.get(key)
    return v if isinstance(v, Mapping) else None


def objs(parent: Any, key: str) -> tuple[JsonObj, ...]:
    """`parent[key]` as a tuple of objects: non-objects dropped, a lone object wrapped."""
    if not isinstance(parent, Mapping):
        return ()
    v = parent.get(key)
    if isinstance(v, Mapping):
        return (v,)
    if isinstance(v, list):
        return tuple(x for x in v if isinstance(x, Mapping))
    return ()


def text(parent: Any, key: str) -> str | None:
    """`parent[key]` as a non-empty, stripped string (numbers are not strings)."""
    if not isinstance(parent, Mapping):
        return None
    v = parent.get(key)
    if isinstance(v, str):
        v = v.strip()
        return v or None
    return None


def number(v: Any) -> float | None:
    """A finite JSON number; a numeric string is accepted too (wrong type, right meaning)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        f = float(v)
    elif isinstance(v, str):
        try:
            f = float(v.strip().replace(",", "."))
        except ValueError:
            return None
    else:
        return None
    return f if math.isfinite(f) else None


def resource_ref(resource: JsonObj) -> str:
    """ "Type/id" for warnings and provenance; "Type/(no id)" when the id is missing."""
    rtype = text(resource, "resourceType") or "Resource"
    rid = text(resource, "id")
    return f"{rtype}/{rid}" if rid else f"{rtype}/(no id)"


# --- Codings ------------------------------------------------------------------------------

_LOINC_SYSTEMS = {codes.LOINC, "urn:oid:2.16.840.1.113883.6.1"}
_SNOMED_SYSTEMS = {codes.SNOMED, "urn:oid:2.16.840.1.113883.6.96"}
_RXNORM_SYSTEMS = {codes.RXNORM, "urn:oid:2.16.840.1.113883.6.88"}
_ATC_SYSTEMS = {codes.ATC, "urn:oid:2.16.840.1.113883.6.73"}
_ICD10_OIDS = {"urn:oid:2.16.840.1.113883.6.3", "urn:oid:2.16.840.1.113883.6.90"}


def system_kind(system: str | None) -> str | None:
    """Which terminology a Coding.system names: loinc, snomed, icd10, rxnorm, atc, or None.

    Accepts the canonical URIs, their OIDs and the usual spelling variants (trailing
    slash, https, SNOMED edition/version URIs, national ICD-10 modifications).
    """
    if not system:
        return None
    s = system.strip().rstrip("/")
    low = s.lower().replace("https://", "http://")
    if s in _LOINC_SYSTEMS or low == codes.LOINC:
        return "loinc"
    if s in _SNOMED_SYSTEMS or low.startswith(codes.SNOMED):
        return "snomed"
    if s in _RXNORM_SYSTEMS or low == codes.RXNORM.lower():
        return "rxnorm"
    if s in _ATC_SYSTEMS or low.rstrip("/") == codes.ATC:
        return "atc"
    if s in _ICD10_OIDS or (("icd-10" in low or "icd10" in low) and "pcs" not in low):
        return "icd10"
    return None


_LOINC_CODE = re.compile(r"^\d{1,7}-\d$")
_ICD10_CODE = re.compile(r"^[A-Z]\d[0-9A-Z](\.?[0-9A-Z]{1,4})?$")
_SNOMED_CODE = re.compile(r"^\d{6,18}$")


@dataclass(frozen=True)
class Code:
    """One coding, normalised: `kind` is the terminology (see system_kind) and `code` is
    stripped (ICD-10 codes are upper-cased with the dot removed)."""

    kind: str | None
    code: str
    system: str | None
    display: str | None


def _guess_kind(code: str) -> str | None:
    # Codings without a system do occur; only unambiguous shapes are guessed.
    if _LOINC_CODE.match(code):
        return "loinc"
    if _ICD10_CODE.match(code.upper()):
        return "icd10"
    if _SNOMED_CODE.match(code):
        return "snomed"
    return None


def codings(concept: Any) -> tuple[Code, ...]:
    """Every usable Coding of a CodeableConcept (or of a lone Coding passed by mistake)."""
    if not isinstance(concept, Mapping):
        return ()
    raw = objs(concept, "coding")
    if not raw and "code" in concept:
        raw = (concept,)
    out: list[Code] = []
    for c in raw:
        code = text(c, "code")
        if code is None:
            v = c.get("code")
            if isinstance(v, int) and not isinstance(v, bool):
                code = str(v)  # SNOMED ids sent as JSON numbers
        if code is None:
            continue
        system = text(c, "system")
        kind = system_kind(system) if system else _guess_kind(code)
        if kind == "icd10":
            code = code.upper().replace(".", "").replace(" ", "")
        out.append(Code(kind=kind, code=code, system=system, display=text(c, "display")))
    return tuple(out)


def concept_text(concept: Any) -> str:
    """CodeableConcept.text plus every coding display, lower-cased, for name matching."""
    if not isinstance(concept, Mapping):
        return ""
    parts = [text(concept, "text") or ""]
    parts += [c.display or "" for c in codings(concept)]
    return " | ".join(p for p in parts if p).lower()


def first_display(concept: Any) -> str | None:
    if not isinstance(concept, Mapping):
        return None
    t = text(concept, "text")
    if t:
        return t
    for c in codings(concept):
        if c.display:
            return c.display
    return None


def status_code(resource: JsonObj, key: str) -> str | None:
    """A status element that is a plain code (Observation.status) or a CodeableConcept
    (Condition.clinicalStatus), lower-cased."""
    v = resource.get(key)
    if isinstance(v, str):
        return v.strip().lower() or None
    if isinstance(v, Mapping):
        for c in codings(v):
            return c.code.lower()
        t = text(v, "text")
        return t.lower() if t else None
    return None


# --- Dates --------------------------------------------------------------------------------

_DATE_RE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:[T ](?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d+)?)?"
    r"(?P<tz>Z|[+-]\d{2}:?\d{2})?)?)?)?$"
)


@dataclass(frozen=True, order=True)
class FhirTime:
    """A FHIR date/dateTime/instant: `instant` (UTC, for ordering) and `day` (the calendar
    date as written, for display). Partial dates sort at the start of their period."""

    instant: datetime
    day: date
    precision: str  # year | month | day | time


def parse_time(v: Any) -> FhirTime | None:
    if not isinstance(v, str):
        return None
    m = _DATE_RE.match(v.strip())
    if not m:
        return None
    try:
        y = int(m["y"])
        mo = int(m["m"] or 1)
        d = int(m["d"] or 1)
        day = date(y, mo, d)
        if m["H"] is None:
            precision = "day" if m["d"] else ("month" if m["m"] else "year")
            return FhirTime(datetime(y, mo, d, tzinfo=UTC), day, precision)
        tz = UTC
        if m["tz"] and m["tz"] != "Z":
            raw = m["tz"].replace(":", "")
            sign = 1 if raw[0] == "+" else -1
            tz = timezone(sign * timedelta(hours=int(raw[1:3]), minutes=int(raw[3:5])))
        local = datetime(y, mo, d, int(m["H"]), int(m["M"]), int(m["S"] or 0), tzinfo=tz)
        return FhirTime(local.astimezone(UTC), day, "time")
    except ValueError:
        return None


def period_start(v: Any) -> FhirTime | None:
    """Period.start, else Period.end."""
    if not isinstance(v, Mapping):
        return None
    return parse_time(v.get("start")) or parse_time(v.get("end"))


def iter_values(container: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    """(suffix, value) of every `prefix[x]` choice element present, e.g. value[x]."""
    if not isinstance(container, Mapping):
        return
    for k, v in container.items():
        if isinstance(k, str) and k.startswith(prefix) and len(k) > len(prefix):
            suffix = k[len(prefix) :]
            if suffix[:1].isupper():
                yield suffix, v
