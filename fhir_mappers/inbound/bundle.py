"""Input -> resources: what we accept, how references resolve, which patient is meant.

Accepted input (anything else raises FhirInputError):
  * a Bundle of any type (collection, searchset, transaction, batch-response, document...)
    with entries; nested Bundles are flattened, OperationOutcome entries and DELETE
    requests skipped;
  * a JSON array of resources (Bundles inside it are flattened too);
  * a single Patient resource (a record with nothing but demographics).
The patient is the only Patient in the input, or the one whose id is given; with no Patient
resource at all, the one patient every clinical resource refers to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fhir_mappers.inbound.errors import FhirInputError
from fhir_mappers.inbound.fhir_json import JsonObj, obj, objs, resource_ref, text

_SKIPPED_TYPES = {"OperationOutcome", "Bundle"}
# Resource types whose subject/patient says whose record they are part of.
_SUBJECT_KEYS = ("subject", "patient")
_LITERAL_REF = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


def normalise_ref(ref: str) -> str:
    """ "Patient/1", "http://x/fhir/Patient/1/_history/2" -> "Patient/1"; urn:uuid and
    contained ("#x") references are returned unchanged."""
    ref = ref.strip()
    if ref.startswith(("urn:", "#")):
        return ref
    m = _LITERAL_REF.search(ref)
    return f"{m.group(1)}/{m.group(2)}" if m else ref


@dataclass
class ResourceIndex:
    """Resolves references between the input's resources (by Type/id, by fullUrl)."""

    by_ref: dict[str, JsonObj] = field(default_factory=dict)

    def add(self, resource: JsonObj, full_url: str | None) -> None:
        rtype, rid = text(resource, "resourceType"), text(resource, "id")
        if rtype and rid:
            self.by_ref.setdefault(f"{rtype}/{rid}", resource)
        if full_url:
            self.by_ref.setdefault(full_url, resource)
            self.by_ref.setdefault(normalise_ref(full_url), resource)

    def resolve(self, ref: str | None, container: JsonObj | None = None) -> JsonObj | None:
        """A literal reference: "#id" in `container`'s contained resources, else by
        fullUrl or Type/id."""
        if not ref:
            return None
        if ref.startswith("#"):
            for c in objs(container, "contained"):
                if text(c, "id") == ref[1:]:
                    return c
            return None
        return self.by_ref.get(ref) or self.by_ref.get(normalise_ref(ref))


@dataclass(frozen=True)
class Entry:
    resource: JsonObj
    full_url: str | None


def _flatten(item: Any, where: str, out: list[Entry], warnings: list[str], depth: int) -> None:
    if not isinstance(item, Mapping):
        warnings.append(f"{where}: not a JSON object; skipped")
        return
    rtype = text(item, "resourceType")
    if rtype is None:
        warnings.append(f"{where}: no resourceType; skipped")
        return
    if rtype == "Bundle":
        if depth > 3:
            warnings.append(f"{where}: Bundle nested too deep; skipped")
            return
        entries = item.get("entry")
        if entries is not None and not isinstance(entries, list):
            warnings.append(f"{where}: Bundle.entry is not an array; skipped")
            return
        for i, e in enumerate(entries or []):
            ewhere = f"{where}.entry[{i}]" if where else f"entry[{i}]"
            if not isinstance(e, Mapping):
                warnings.append(f"{ewhere}: not a JSON object; skipped")
                continue
            if (text(obj(e, "request"), "method") or "").upper() == "DELETE":
                continue
            res = e.get("resource")
            if res is None:
                continue  # a response entry or a bare request: nothing to read
            if isinstance(res, Mapping) and text(res, "resourceType") == "Bundle":
                _flatten(res, ewhere, out, warnings, depth + 1)
                continue
            if isinstance(res, Mapping) and text(res, "resourceType"):
                out.append(Entry(res, text(e, "fullUrl")))
            else:
                warnings.append(f"{ewhere}: resource without resourceType; skipped")
        return
    if rtype not in _SKIPPED_TYPES:
        out.append(Entry(item, None))


def extract_entries(data: Any) -> tuple[list[Entry], list[str]]:
    """The resources in the input and warnings about skipped parts; raises FhirInputError
    for input that is not FHIR we accept (see the module docstring)."""
    warnings: list[str] = []
    out: list[Entry] = []
    if isinstance(data, list):
        if not data:
            raise FhirInputError("the JSON array is empty: no resources")
        if not any(isinstance(x, Mapping) and text(x, "resourceType") for x in data):
            raise FhirInputError("not FHIR: the JSON array holds no resource with a resourceType")
        for i, item in enumerate(data):
            _flatten(item, f"[{i}]", out, warnings, 0)
    elif isinstance(data, Mapping):
        rtype = data.get("resourceType")
        if rtype is None:
            raise FhirInputError("not FHIR: the JSON object has no resourceType")
        if not isinstance(rtype, str) or not rtype.strip():
            raise FhirInputError("not FHIR: resourceType is not a string")
        if rtype == "Bundle":
            entries = data.get("entry")
            if entries is not None and not isinstance(entries, list):
                raise FhirInputError("malformed Bundle: entry is not an array")
            if not entries:
                raise FhirInputError("the Bundle has no entries")
            _flatten(data, "", out, warnings, 0)
        elif rtype == "Patient":
            out.append(Entry(data, None))
        else:
            raise FhirInputError(
                f"expected a Bundle, a JSON array of resources or a Patient, got {rtype[:40]}"
            )
    else:
        raise FhirInputError("not FHIR: expected a JSON object (Bundle) or an array of resources")
    if not out:
        raise FhirInputError("no readable resources in the input")
    return out, warnings


def subject_ref(resource: JsonObj) -> JsonObj | None:
    for key in _SUBJECT_KEYS:
        ref = obj(resource, key)
        if ref is not None:
            return ref
    return None


@dataclass(frozen=True)
class PatientChoice:
    patient: JsonObj | None
    ref: str  # "Patient/id" (or the urn:uuid the input uses when the Patient has no id)
    aliases: frozenset[str]  # every reference string that denotes this patient
    identifiers: frozenset[tuple[str, str]]


def _patient_aliases(entry: Entry) -> PatientChoice:
    p = entry.resource
    rid = text(p, "id")
    aliases = set()
    if rid:
        aliases.add(f"Patient/{rid}")
    if entry.full_url:
        aliases.add(entry.full_url)
        aliases.add(normalise_ref(entry.full_url))
    ids = frozenset(
        (text(i, "system") or "", v) for i in objs(p, "identifier") if (v := text(i, "value"))
    )
    ref = f"Patient/{rid}" if rid else (entry.full_url or "Patient/(no id)")
    return PatientChoice(p, ref, frozenset(aliases), ids)


def choose_patient(entries: Iterable[Entry], patient_id: str | None) -> PatientChoice:
    entries = list(entries)
    patients = [e for e in entries if text(e.resource, "resourceType") == "Patient"]
    if patient_id is not None:
        want = normalise_ref(patient_id if "/" in patient_id else f"Patient/{patient_id}")
        for e in patients:
            choice = _patient_aliases(e)
            if want in choice.aliases:
                return choice
        referenced = _referenced_patients(entries)
        if want in referenced:
            return PatientChoice(None, want, frozenset({want}), frozenset())
        raise FhirInputError(f"no patient with id {patient_id[:64]} in the input")
    if len(patients) == 1:
        return _patient_aliases(patients[0])
    if len(patients) > 1:
        raise FhirInputError(f"{len(patients)} Patient resources in the input; choose one by id")
    referenced = _referenced_patients(entries)
    if len(referenced) == 1:
        ref = next(iter(referenced))
        return PatientChoice(None, ref, frozenset({ref}), frozenset())
    if not referenced:
        raise FhirInputError("no Patient resource and no resource refers to a patient")
    raise FhirInputError(
        f"no Patient resource and {len(referenced)} patients referred to; choose one by id"
    )


def _referenced_patients(entries: list[Entry]) -> set[str]:
    out: set[str] = set()
    for e in entries:
        ref = text(subject_ref(e.resource), "reference")
        if ref and normalise_ref(ref).startswith("Patient/"):
            out.add(normalise_ref(ref))
    return out


def belongs_to(resource: JsonObj, choice: PatientChoice) -> bool | None:
    """True: the resource's subject is the patient; False: someone else; None: no subject."""
    ref_obj = subject_ref(resource)
    if ref_obj is None:
        return None
    ref = text(ref_obj, "reference")
    if ref:
        return ref in choice.aliases or normalise_ref(ref) in choice.aliases
    ident = obj(ref_obj, "identifier")
    if ident is not None and (v := text(ident, "value")):
        system = text(ident, "system")
        if system:
            return (system, v) in choice.identifiers
        return any(val == v for _, val in choice.identifiers)
    return None


def build_index(entries: Iterable[Entry]) -> ResourceIndex:
    index = ResourceIndex()
    for e in entries:
        index.add(e.resource, e.full_url)
    return index


def describe(resource: JsonObj) -> str:
    return resource_ref(resource)
