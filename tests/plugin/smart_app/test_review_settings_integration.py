"""The SMART app's review job is configured as every screening is (plugin.workflow.factory):
the grader of [grader] with grader.remote (the network on the local KServe v2 server) and the
deployment's advice.population, through a real launch at the test EHR."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from plugin.smart_app.demo import serve_demo_ui
from plugin.store.screenings import ScreeningRepository

pytestmark = pytest.mark.integration


def _patient(fhir_base_url: str, photo: bytes) -> str:
    """Type 2 diabetes, BMI 24.5 (overweight by the Chinese cut-off only), one photograph."""
    pid = f"cfg-{uuid.uuid4().hex[:10]}"
    subject = {"reference": f"Patient/{pid}"}
    with httpx.Client(base_url=fhir_base_url, timeout=30) as http:
        http.put(
            f"/Patient/{pid}",
            json={"resourceType": "Patient", "id": pid, "birthDate": "1968-04-05"},
        ).raise_for_status()
        for resource in (
            {
                "resourceType": "Condition",
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]},
                "onsetDateTime": "2012-01-01",
            },
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "39156-5"}]},
                "effectiveDateTime": "2026-01-10",
                "valueQuantity": {"value": 24.5, "unit": "kg/m2", "code": "kg/m2"},
            },
            {
                "resourceType": "Media",
                "status": "completed",
                "createdDateTime": "2026-01-10",
                "bodySite": {"coding": [{"system": "http://snomed.info/sct", "code": "8966001"}]},
                "content": {"contentType": "image/png", "data": base64.b64encode(photo).decode()},
            },
        ):
            http.post(f"/{resource['resourceType']}", json={**resource, "subject": subject})
    return pid


def test_the_review_job_uses_the_remote_grader_and_the_deployment_population(
    fhir_base_url: str, remote_tiny_grader: Any, launch_review: Callable[..., Any]
) -> None:
    remote = remote_tiny_grader
    pid = _patient(fhir_base_url, remote.photo)
    overrides = {"grader": remote.grader, "advice": {"population": "chinese"}}
    with serve_demo_ui(fhir_base_url, settings=overrides) as ui:
        before = remote.server.requests
        launch_review(ui, ui.launch_url(pid))
        repo = ScreeningRepository(ui.services.store.db)
        record = repo.latest(ui.iss, f"Patient/{pid}")
    assert record is not None and record.advice is not None
    assert record.grader_model == "tiny" and record.summary["images"]["graded"] == 1
    assert remote.server.requests > before
    assert "WT-LOSS-CHINESE" in [item["rule_id"] for item in record.advice["items"]]
