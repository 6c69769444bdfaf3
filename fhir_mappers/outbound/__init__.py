"""Outbound mappers (pure): a grading result, an advice draft and a referral -> FHIR R4
resources (DiagnosticReport, per-eye Observations, Device, CarePlan, ServiceRequest,
Provenance) in one transaction Bundle of conditional creates, validated before sending."""

from fhir_mappers.outbound.errors import OutboundError, OutboundInputError, OutboundValidationError
from fhir_mappers.outbound.inputs import (
    AdviceForFhir,
    CarePlanItem,
    ReferralForFhir,
    ScreeningContext,
    WriteRequest,
)
from fhir_mappers.outbound.transaction import WriteBundle, build_write_bundle
from fhir_mappers.outbound.validate import validate_resource

__all__ = [
    "AdviceForFhir",
    "CarePlanItem",
    "OutboundError",
    "OutboundInputError",
    "OutboundValidationError",
    "ReferralForFhir",
    "ScreeningContext",
    "WriteBundle",
    "WriteRequest",
    "build_write_bundle",
    "validate_resource",
]
