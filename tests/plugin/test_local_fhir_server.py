"""The bundled FHIR server starts on loopback, answers /metadata, and pages searches."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration


def test_metadata_is_a_capability_statement(fhir_base_url: str) -> None:
    assert fhir_base_url.startswith("http://127.0.0.1:")
    r = httpx.get(f"{fhir_base_url}/metadata", timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert body["resourceType"] == "CapabilityStatement"
    assert body["fhirVersion"] == "4.0.1"
