"""The FHIR gateway (the only code that speaks HTTP to a FHIR server), its typed errors,
and the write-back sender."""

from plugin.fhir.errors import (
    FhirAuthError,
    FhirConflict,
    FhirError,
    FhirInvalid,
    FhirNotFound,
    FhirProtocolError,
    FhirRequestError,
    FhirTimeout,
    FhirTransactionError,
    FhirUnavailable,
)
from plugin.fhir.gateway import (
    CreateResult,
    EntryResult,
    FhirGateway,
    SearchParams,
    SearchResult,
    TransactionResult,
)
from plugin.fhir.http_gateway import HttpFhirGateway

__all__ = [
    "CreateResult",
    "EntryResult",
    "FhirAuthError",
    "FhirConflict",
    "FhirError",
    "FhirGateway",
    "FhirInvalid",
    "FhirNotFound",
    "FhirProtocolError",
    "FhirRequestError",
    "FhirTimeout",
    "FhirTransactionError",
    "FhirUnavailable",
    "HttpFhirGateway",
    "SearchParams",
    "SearchResult",
    "TransactionResult",
]
