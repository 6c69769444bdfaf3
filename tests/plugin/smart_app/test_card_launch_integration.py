"""From a CDS card to the screening it named: our CDS service's patient-view card carries a
smart link (the app's launch URL + appContext naming the screening); the test EHR launches
the app with that appContext, returns it with the token, and the review page opens that
screening, even after a newer one exists. Never for another patient: launched for someone
else with the same appContext, the page shows that patient's own screening. Real HTTP
throughout: the CDS client, the app, the test EHR and the FHIR server on 127.0.0.1."""

from __future__ import annotations

import base64
import io
import json
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from PIL import Image

from models.grader.result import BinaryFinding, DrGrade, ImageGrading, ModelInfo, Quality
from plugin.cds.services import PATIENT_VIEW_ID, patient_view_service
from plugin.imaging.results import RetrievedImage
from plugin.local_servers.cds_client import LocalCdsClient, PrefetchMode
from plugin.smart_app.demo import serve_demo_ui
from plugin.smart_app.runtime import LAUNCH_PATH

pytestmark = pytest.mark.integration

SNOMED = "http://snomed.info/sct"
EYE_SITES = {"right": "18944008", "left": "8966001"}
_SCREENING = re.compile(r'data-screening="([^"]*)"')


class RedGrader:
    """Grades by mean red (0-255 -> ICDR 0-4): enough for a screening record."""

    model = ModelInfo(name="red-grader", version="1")

    def grade(self, images: Sequence[RetrievedImage]) -> list[ImageGrading]:
        out = []
        for img in images:
            grade = min(4, int(float(img.rgb[..., 0].mean()) // 52))
            probs = [0.0] * 5
            probs[grade] = 1.0
            out.append(
                ImageGrading(
                    image_id=img.image_id,
                    quality=Quality(gradable=True, score=1.0),
                    dr_grade=DrGrade(probabilities=tuple(probs), grade=grade),  # type: ignore[arg-type]
                    referable=BinaryFinding(probability=float(grade >= 2), positive=grade >= 2),
                    model=self.model,
                )
            )
        return out


def _png(red: int) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), (red, 40, 20)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


class Record:
    """Patients on the real FHIR server: diabetic, with recent photographs as Media."""

    def __init__(self, fhir_base_url: str) -> None:
        self.http = httpx.Client(base_url=fhir_base_url, timeout=30)

    def patient(self, red: int) -> str:
        pid = f"card-{uuid.uuid4().hex[:10]}"
        self.http.put(
            f"/Patient/{pid}",
            json={"resourceType": "Patient", "id": pid, "birthDate": "1962-03-04"},
        ).raise_for_status()
        self.http.post(
            "/Condition",
            json={
                "resourceType": "Condition",
                "code": {"coding": [{"system": SNOMED, "code": "44054006"}]},
                "subject": {"reference": f"Patient/{pid}"},
            },
        ).raise_for_status()
        self.photo(pid, "right", red)
        return pid

    def photo(self, pid: str, eye: str, red: int) -> None:
        taken = (datetime.now(UTC) - timedelta(days=20)).date().isoformat()
        self.http.post(
            "/Media",
            json={
                "resourceType": "Media",
                "status": "completed",
                "subject": {"reference": f"Patient/{pid}"},
                "createdDateTime": taken,
                "bodySite": {"coding": [{"system": SNOMED, "code": EYE_SITES[eye]}]},
                "content": {"contentType": "image/png", "data": _png(red)},
            },
        ).raise_for_status()


def shown_screening(page: str) -> str:
    found = _SCREENING.search(page)
    assert found is not None, "the review page shows no screening"
    return found.group(1)


def test_the_card_link_opens_the_screening_it_named_for_its_patient_only(
    fhir_base_url: str, launch_review: Callable[..., Any]
) -> None:
    record = Record(fhir_base_url)
    with record.http, LocalCdsClient() as client:
        cds = {"issuers": [{"iss": client.issuer, "jwks_url": client.jwks_url}]}
        with serve_demo_ui(fhir_base_url, grader=RedGrader(), settings={"cds": cds}) as ui:
            client.cds_base_url = ui.app_base_url
            pid = record.patient(red=180)
            # The patient's first screening, run by the app (as the clinician, on the EHR).
            first = shown_screening(launch_review(ui, ui.launch_url(pid)).page)

            # The EHR calls our CDS service as the chart opens (FHIR server: the EHR's).
            context = {"userId": "Practitioner/card-user", "patientId": pid}
            prefetch = client.build_prefetch(
                patient_view_service().prefetch or {},
                context,
                PrefetchMode.PRESENT,
                fhir_server=fhir_base_url,
            )
            body = client.hook_request(
                "patient-view", context, fhir_server=ui.iss, prefetch=prefetch
            )
            response = client.call(PATIENT_VIEW_ID, body)
            assert response.status_code == 200, response.text
            links = [link for card in response.json()["cards"] for link in card.get("links", [])]
            (link,) = {
                json.dumps(link, sort_keys=True) for link in links if link["type"] == "smart"
            }
            smart_link = json.loads(link)
            assert smart_link["url"] == ui.app_base_url + LAUNCH_PATH  # the registered launch URI
            app_context = smart_link["appContext"]
            assert json.loads(app_context)["screening"] == first

            # A new photograph: launched from the chart, the app now shows a newer screening.
            record.photo(pid, "left", 60)
            latest = launch_review(ui, ui.launch_url(pid))
            assert shown_screening(latest.page) not in ("", first)
            assert 'id="from-card"' not in latest.page

            # Launched from the card: the EHR passes appContext through; the card's screening.
            from_card = launch_review(ui, ui.launch_url(pid, app_context=app_context))
            assert shown_screening(from_card.page) == first
            assert (
                'id="from-card"' in from_card.page and "A newer screening exists" in from_card.page
            )

            # The same appContext in a launch for another patient names nothing of theirs.
            other = record.patient(red=30)
            theirs = launch_review(ui, ui.launch_url(other, app_context=app_context))
            assert shown_screening(theirs.page) not in ("", first)
            assert 'id="from-card"' not in theirs.page
