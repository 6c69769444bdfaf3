"""The FHIR R4 fields the imaging mappers read, as lenient pydantic models (unknown fields
ignored), and the one error they raise for a resource that cannot be used at all."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class ImagingMappingError(ValueError):
    """A resource we cannot use at all; the message is safe to show (no PHI, no values)."""


# --- Input models: only the fields we read; everything else is ignored -------------------
class FhirInput(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Coding(FhirInput):
    system: str | None = None
    code: str | None = None
    display: str | None = None


class CodeableConcept(FhirInput):
    coding: tuple[Coding, ...] = ()
    text: str | None = None


class Reference(FhirInput):
    reference: str | None = None


class StudyInstance(FhirInput):
    uid: str
    sopClass: Coding | None = None
    number: int | None = None


class StudySeries(FhirInput):
    uid: str
    modality: Coding | None = None
    bodySite: Coding | None = None
    laterality: Coding | None = None
    started: str | None = None
    endpoint: tuple[Reference, ...] = ()
    instance: tuple[StudyInstance, ...] = ()


class Identifier(FhirInput):
    system: str | None = None
    value: str | None = None


class ImagingStudyIn(FhirInput):
    resourceType: str
    id: str | None = None
    status: str | None = None
    identifier: tuple[Identifier, ...] = ()
    modality: tuple[Coding, ...] = ()
    started: str | None = None
    endpoint: tuple[Reference, ...] = ()
    series: tuple[StudySeries, ...] = ()
    contained: tuple[dict[str, Any], ...] = ()


class EndpointIn(FhirInput):
    resourceType: str
    id: str | None = None
    status: str | None = None
    connectionType: Coding | None = None
    address: str | None = None


def parse_input(model: type[FhirInput], resource: Mapping[str, Any], what: str) -> Any:
    if not isinstance(resource, Mapping):
        raise ImagingMappingError(f"{what} is not a JSON object")
    try:
        return model.model_validate(dict(resource))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ImagingMappingError(f"{what} is malformed at {loc or 'root'}") from None
