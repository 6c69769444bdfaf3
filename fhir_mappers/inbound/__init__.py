"""Inbound mappers: FHIR R4 resources as EHRs send them -> models.clinical_facts.ClinicalFacts.

Entry point: `clinical_facts_from_fhir(data, as_of=..., patient_id=...)`; unusable input
raises `FhirInputError`. Pure: no HTTP, no Flask.
"""

from fhir_mappers.inbound.errors import FhirInputError
from fhir_mappers.inbound.facts import clinical_facts_from_fhir

__all__ = ["FhirInputError", "clinical_facts_from_fhir"]
