"""A Device resource for a model (the grader or the advice engine), named with its version.

R4 DiagnosticReport.performer cannot be a Device, so the model appears as
Observation.device and as the Provenance agent (ARCHITECTURE.md, sign-off semantics).
"""

from __future__ import annotations

from typing import Literal

from fhir_mappers.outbound.common import JSON, Built, deepdr_concept
from fhir_mappers.outbound.identifiers import device_identifier_value, full_url, identifier
from models.grader.result import ModelInfo

ModelRole = Literal["fundus-grader", "advice-engine"]


def model_device(model: ModelInfo, role: ModelRole) -> Built:
    ident = identifier("Device", device_identifier_value(model, role))
    device: JSON = {
        "resourceType": "Device",
        "identifier": [ident],
        "status": "active",
        "deviceName": [{"name": model.name, "type": "model-name"}],
        "type": deepdr_concept(role),
        "version": [{"value": model.version}],
    }
    return Built(f"device/{role}", device, full_url(ident))
