"""What every inbound mapper shares: the reference date and the warning list."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from fhir_mappers.inbound.bundle import ResourceIndex
from fhir_mappers.inbound.fhir_json import JsonObj, resource_ref


@dataclass
class MappingContext:
    """`warnings` collects data-quality notes for the clinician and auditor. They name
    resources by reference and codes only: never names, free text or values (no PHI)."""

    as_of: date
    index: ResourceIndex
    patient_ref: str
    birth_date: date | None = None
    warnings: list[str] = field(default_factory=list)
    # Bundle entries without a resource id are named by their fullUrl (urn:uuid:...).
    full_urls: dict[int, str] = field(default_factory=dict)

    def ref(self, resource: JsonObj) -> str:
        """How facts and warnings name a resource: "Type/id", else its entry's fullUrl."""
        if resource.get("id") is None and id(resource) in self.full_urls:
            return self.full_urls[id(resource)]
        return resource_ref(resource)

    def warn(self, ref: str, message: str) -> None:
        line = f"{ref}: {message}"
        if line not in self.warnings:
            self.warnings.append(line)
