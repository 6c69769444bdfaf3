"""Deterministic business identifiers and fullUrls.

The same input (patient, source images, model name and version) always yields the same
identifiers, so a retried write-back finds what the first attempt created (conditional
create on `identifier`) instead of duplicating it. fullUrls are urn:uuid values derived
from the identifier, so they are stable too and cross-reference within the Bundle.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from urllib.parse import quote

from fhir_mappers import codes
from fhir_mappers.outbound.common import JSON
from models.grader.result import ModelInfo, PatientGrading

IDENTIFIER_SYSTEMS: dict[str, str] = {
    "DiagnosticReport": f"{codes.DEEPDR_IDENTIFIER}/diagnostic-report",
    "Observation": f"{codes.DEEPDR_IDENTIFIER}/observation",
    "CarePlan": f"{codes.DEEPDR_IDENTIFIER}/care-plan",
    "ServiceRequest": f"{codes.DEEPDR_IDENTIFIER}/service-request",
    "Device": f"{codes.DEEPDR_IDENTIFIER}/model",
}


def digest(payload: object) -> str:
    """sha256 of the canonical JSON of `payload` (sorted keys, no whitespace)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def image_keys(grading: PatientGrading) -> list[str]:
    """The source images, by content hash where known (else by image id), sorted."""
    keys = {
        f"sha256:{img.sha256}" if img.sha256 else f"id:{img.image_id}"
        for eye in grading.eyes
        for img in eye.images
    }
    return sorted(keys)


def screening_key(patient_ref: str, grading: PatientGrading) -> str:
    return digest(
        {
            "patient": patient_ref,
            "images": image_keys(grading),
            "model": [grading.model.name, grading.model.version],
        }
    )


def identifier(resource_type: str, value: str) -> JSON:
    return {"use": "official", "system": IDENTIFIER_SYSTEMS[resource_type], "value": value}


def device_identifier_value(model: ModelInfo, role: str) -> str:
    """One Device per (role, model name, version): a new version is a new Device."""
    return f"{role}:{model.name}@{model.version}"


def full_url(ident: JSON) -> str:
    name = f"{ident['system']}|{ident['value']}"
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def if_none_exist(ident: JSON) -> str:
    """Search query for a conditional create on this identifier; the value is
    percent-encoded so a model name with '&' or '#' cannot break the query."""
    return f"identifier={ident['system']}|{quote(str(ident['value']), safe='@.-_:')}"


def write_key(identifiers: Iterable[JSON]) -> str:
    """Idempotency key of one write (for its Provenance): the set of business identifiers
    it records."""
    return digest(sorted(f"{i['system']}|{i['value']}" for i in identifiers))
