"""Typed errors of the inbound mappers. Messages are safe to show: no PHI, no values."""

from __future__ import annotations


class FhirInputError(ValueError):
    """The input is not FHIR we can read as one patient's record (not a Bundle or a list of
    resources, no patient, several patients and none chosen). One line, safe to show."""
