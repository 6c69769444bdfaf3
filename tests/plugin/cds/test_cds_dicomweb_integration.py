"""patient-view with photographs as an ImagingStudy on a real PACS (Orthanc, DICOMweb with
basic auth from the configuration): the study's Endpoint read with the hook's token, the
instances retrieved over WADO-RS, graded; the next call finds their identities in the index
and their results in the cache, and retrieves nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cds_hooks.cards import validate_response
from plugin.cds.services import PATIENT_VIEW_ID
from plugin.cds.services import PATIENT_VIEW_PREFETCH as TEMPLATES
from plugin.fhir.http_gateway import HttpFhirGateway
from plugin.local_servers.cds_client import LocalCdsClient, PrefetchMode
from plugin.local_servers.dicom_testdata import FundusSource, fundus_images_dir, load_fundus_study
from plugin.local_servers.orthanc import LocalOrthanc

pytestmark = pytest.mark.integration

USER, PASSWORD = "deepdr", "pacs-secret-31c"


@pytest.fixture(scope="module")
def fundus() -> Path:
    folder = fundus_images_dir()
    if not (folder / "Patient003_R.jpg").is_file():
        pytest.skip(f"shared fundus images not found at {folder} (set DEEPDR_DATA_DIR)")
    return folder


@pytest.fixture(scope="module")
def pacs() -> Iterator[LocalOrthanc]:
    with LocalOrthanc(users={USER: PASSWORD}) as orthanc:
        yield orthanc


def test_an_imaging_study_is_retrieved_once_then_answered_from_the_index_and_cache(
    tmp_path: Path,
    fhir_base_url: str,
    kit: Any,
    pacs: LocalOrthanc,
    fundus: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    credentials = {
        "imaging": {
            "credentials": [
                {
                    "base_url": pacs.dicomweb_url,
                    "auth": {"kind": "basic", "username": USER, "password": PASSWORD},
                }
            ]
        }
    }
    with (
        HttpFhirGateway(fhir_base_url) as fhir,
        LocalCdsClient() as client,
        kit.running_app(
            tmp_path, fhir_base_url, client, budget_ms=20_000, extra=credentials
        ) as app,
    ):
        client.cds_base_url = app.base
        patient = fhir.create({"resourceType": "Patient", "gender": "male"}).reference
        fhir.create(kit.diabetes(patient))
        study = load_fundus_study(
            fhir,
            pacs.dicomweb_url,
            patient,
            [
                FundusSource(fundus / "Patient003_R.jpg", "R"),
                FundusSource(fundus / "Patient003_L.jpg", "L"),
            ],
            pacs_auth=pacs.auth,
            acquired=datetime.now() - timedelta(days=20),
        )
        context = {"userId": "Practitioner/dr-cds", "patientId": patient.split("/")[1]}
        body = client.hook_request(
            "patient-view",
            context,
            fhir_server=fhir_base_url,
            access_token=kit.TOKEN,
            prefetch=client.build_prefetch(
                TEMPLATES, context, PrefetchMode.PRESENT, fhir_server=fhir_base_url
            ),
        )
        assert (
            body["prefetch"]["imagingStudies"]["entry"][0]["resource"]["id"]
            == (study.imaging_study_ref.split("/")[1])
        )

        with caplog.at_level(logging.INFO, logger="plugin.cds.handlers"):
            first = client.call(PATIENT_VIEW_ID, body)
            second = client.call(PATIENT_VIEW_ID, body)

        for response in (first, second):
            assert response.status_code == 200
            assert validate_response(response.json(), require_uuids=True) == []
        (card,) = first.json()["cards"]
        assert card["summary"].startswith("AI retinal screening:")
        assert "Right eye" in card["detail"] and "Left eye" in card["detail"]
        assert second.json()["cards"] == [card]
        assert app.grader.graded_count == 2
        lines = [r.getMessage() for r in caplog.records if "source(s)" in r.getMessage()]
        assert "fetched=1" in lines[0] and "graded=2" in lines[0]
        assert "fetched=0" in lines[1] and "cache_hits=2" in lines[1]
