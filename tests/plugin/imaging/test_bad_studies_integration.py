"""Bad input on the DICOMweb path, against a real Orthanc and the real FHIR server: every
problem becomes a per-image error (or a skipped entry with its reason) while the rest of
the study is still retrieved."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydicom.encaps import encapsulate

from fhir_mappers.imaging import SOP_ENCAPSULATED_PDF, SOP_OPHTHALMIC_PHOTOGRAPHY_8BIT
from models.grader.result import Laterality
from plugin.imaging.config import BasicAuth, ImagingLimits, ImagingSettings, OriginCredentials
from plugin.imaging.decode import read_dicom
from plugin.imaging.fetcher import ImageFetcher
from plugin.imaging.results import FetchErrorCode, ImageFetchResult
from plugin.local_servers.dicom_testdata import (
    TS_EXPLICIT_LE,
    TS_JPEG_BASELINE,
    make_op_instance,
    make_pdf_instance,
    stow_rs,
)
from plugin.local_servers.dicom_testdata_fhir import SeriesSpec, dicomweb_endpoint, imaging_study
from plugin.local_servers.orthanc import LocalOrthanc

pytestmark = pytest.mark.integration

STUDY = "1.2.826.0.1.3680043.8.498.777"
WHEN = datetime(2024, 2, 2, 8, 0)


def uid(*parts: int) -> str:
    return ".".join([STUDY, *map(str, parts)])


def small_jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def op(
    series: int, n: int, laterality: str | None, ts: Any = TS_EXPLICIT_LE, seed: int = 0
) -> bytes:
    return make_op_instance(
        small_jpeg(seed or series * 10 + n),
        patient_id="bad-cases",
        patient_name="Bad^Cases",
        study_uid=STUDY,
        series_uid=uid(series),
        instance_uid=uid(series, n),
        laterality=laterality,  # type: ignore[arg-type]
        transfer_syntax=ts,
        acquired=WHEN,
        series_number=series,
        instance_number=n,
    )


def rewrite(data: bytes, **changes: Any) -> bytes:
    ds = read_dicom(data)
    for k, v in changes.items():
        setattr(ds, k, v)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


@pytest.fixture(scope="module")
def stored(orthanc: LocalOrthanc) -> dict[str, bytes]:
    """Instances in the PACS: good, laterality only in DICOM / nowhere, two PDFs, a corrupt
    JPEG frame and a frame whose header claims 20000 x 20000 pixels."""
    pdf = dict(patient_id="bad-cases", patient_name="Bad^Cases", study_uid=STUDY, series_uid=uid(4))
    corrupt = rewrite(
        op(7, 1, "R", TS_JPEG_BASELINE), PixelData=encapsulate([b"\xff\xd8" + bytes(300)])
    )
    huge = rewrite(op(8, 1, "L", TS_JPEG_BASELINE), Rows=20000, Columns=20000)
    instances = {
        uid(1, 1): op(1, 1, "R"),
        uid(2, 1): op(2, 1, "L"),
        uid(2, 2): op(2, 2, None),
        uid(4, 1): make_pdf_instance(**pdf, instance_uid=uid(4, 1)),
        uid(4, 2): make_pdf_instance(**pdf, instance_uid=uid(4, 2)),
        uid(7, 1): corrupt,
        uid(8, 1): huge,
    }
    stow_rs(orthanc.dicomweb_url, list(instances.values()), auth=orthanc.auth)
    return instances


def series(n: int, *instances: tuple[int, str | None], **kw: Any) -> SeriesSpec:
    return SeriesSpec(
        uid(n), n, kw.pop("laterality", None), [(uid(n, i), sop) for i, sop in instances], **kw
    )


OP = SOP_OPHTHALMIC_PHOTOGRAPHY_8BIT


def messy_study(patient: str, endpoint_ref: str | None) -> dict[str, Any]:
    study = imaging_study(
        patient_ref=patient,
        study_uid=STUDY,
        endpoint_ref=endpoint_ref,
        started=WHEN,
        series=[
            series(1, (1, OP), laterality="R"),  # good
            series(2, (1, OP), (2, OP), with_laterality=False, with_body_site=False),
            series(4, (1, SOP_ENCAPSULATED_PDF), (2, OP)),  # a PDF; one mislabelled as OP
            series(6, (1, OP), laterality="L"),  # listed but not in the PACS
            series(7, (1, OP), laterality="R"),  # corrupt frame
            series(8, (1, OP), laterality="L"),  # huge frame
            series(9, laterality="R", list_instances=False),  # nothing in the PACS either
            series(10, (1, OP), modality="OPT"),  # OCT: not a photograph
        ],
    )
    # the second PDF is listed without a SOP class: only its DICOM header tells
    del study["series"][2]["instance"][1]["sopClass"]
    return study


@pytest.fixture(scope="module")
def setup(
    fhir_client: Any, orthanc: LocalOrthanc, pacs_password: str, stored: dict[str, bytes]
) -> tuple[str, str, ImagingSettings]:
    patient = fhir_client.create({"resourceType": "Patient"})
    endpoint = fhir_client.create(dicomweb_endpoint(orthanc.dicomweb_url))
    creds = OriginCredentials(
        base_url=orthanc.dicomweb_url, auth=BasicAuth(username="deepdr", password=pacs_password)
    )
    return (
        f"Patient/{patient['id']}",
        f"Endpoint/{endpoint['id']}",
        ImagingSettings(credentials=(creds,)),
    )


def run(
    fhir_client: Any, fhir_base_url: str, settings: ImagingSettings, resource: dict[str, Any]
) -> ImageFetchResult:
    with ImageFetcher(fhir_client.gateway, settings, fhir_base_url=fhir_base_url) as fetcher:
        return fetcher.fetch_resource(resource)


def codes(result: ImageFetchResult) -> dict[str, str]:
    return {e.image_id.rsplit("/", 1)[-1]: e.code.value for e in result.errors}


@pytest.mark.parametrize("mode", ["instance", "frames"])
def test_each_bad_image_is_its_own_error_and_the_rest_is_retrieved(
    mode: str, setup: tuple[str, str, ImagingSettings], fhir_client: Any, fhir_base_url: str
) -> None:
    patient, endpoint_ref, settings = setup
    settings = settings.model_copy(update={"retrieve": mode})
    study = fhir_client.create(messy_study(patient, endpoint_ref))
    result = run(fhir_client, fhir_base_url, settings, study)

    images = {i.instance_uid: i for i in result.images}
    assert set(images) == {uid(1, 1), uid(2, 1), uid(2, 2)}
    assert images[uid(1, 1)].laterality is Laterality.RIGHT
    # missing series laterality: the DICOM header's ImageLaterality is used...
    assert images[uid(2, 1)].laterality is Laterality.LEFT
    assert images[uid(2, 1)].laterality_source == "DICOM ImageLaterality (0020,0062)"
    # ...and where there is none anywhere, the eye is unknown and the image says so
    assert images[uid(2, 2)].laterality is Laterality.UNKNOWN
    assert images[uid(2, 2)].notes == ("no laterality recorded: eye unknown",)

    assert codes(result) == {
        uid(4, 1): "not-an-image",  # SOP class listed in the ImagingStudy
        uid(4, 2): "not-an-image",  # SOP class found in the retrieved header
        uid(6, 1): "not-found",
        uid(7, 1): "corrupt",
        uid(8, 1): "too-large",
        uid(9): "no-instances",
    }
    assert all(e.source_ref == f"ImagingStudy/{study['id']}" for e in result.errors)
    assert [(s.item, s.reason) for s in result.skipped] == [
        (uid(10), "modality OPT is not ophthalmic photography")
    ]


def test_pacs_401_without_credentials(
    setup: tuple[str, str, ImagingSettings], fhir_client: Any, fhir_base_url: str
) -> None:
    patient, endpoint_ref, _ = setup
    result = run(fhir_client, fhir_base_url, ImagingSettings(), messy_study(patient, endpoint_ref))
    assert result.images == []
    assert codes(result)[uid(1, 1)] == "unauthorized"
    assert "HTTP 401" in result.errors[0].reason


def test_pacs_timeout(
    setup: tuple[str, str, ImagingSettings],
    silent_endpoint: str,
    fhir_client: Any,
    fhir_base_url: str,
) -> None:
    patient, _, settings = setup
    endpoint = fhir_client.create(dicomweb_endpoint(silent_endpoint))
    fast = settings.model_copy(update={"limits": ImagingLimits(timeout_s=0.3)})
    study = imaging_study(
        patient_ref=patient,
        study_uid=STUDY,
        endpoint_ref=f"Endpoint/{endpoint['id']}",
        started=WHEN,
        series=[series(1, (1, OP), laterality="R")],
    )
    result = run(fhir_client, fhir_base_url, fast, study)
    assert [e.code for e in result.errors] == [FetchErrorCode.TIMEOUT]
    assert result.errors[0].reason == "image source did not answer in time"


def test_download_cap(
    setup: tuple[str, str, ImagingSettings], fhir_client: Any, fhir_base_url: str
) -> None:
    patient, endpoint_ref, settings = setup
    capped = settings.model_copy(update={"limits": ImagingLimits(max_download_bytes=2000)})
    study = imaging_study(
        patient_ref=patient,
        study_uid=STUDY,
        endpoint_ref=endpoint_ref,
        started=WHEN,
        series=[series(1, (1, OP), laterality="R")],
    )
    result = run(fhir_client, fhir_base_url, capped, study)
    assert [e.code for e in result.errors] == [FetchErrorCode.TOO_LARGE]


def test_endpoint_problems(
    setup: tuple[str, str, ImagingSettings],
    orthanc: LocalOrthanc,
    fhir_client: Any,
    fhir_base_url: str,
) -> None:
    patient, _, settings = setup
    one = [series(1, (1, OP), laterality="R")]
    no_endpoint = imaging_study(
        patient_ref=patient, study_uid=STUDY, endpoint_ref=None, started=WHEN, series=one
    )
    result = run(fhir_client, fhir_base_url, settings, no_endpoint)
    assert [e.code for e in result.errors] == [FetchErrorCode.NO_ENDPOINT]
    # a configured DICOMweb base is the fallback
    with_default = settings.model_copy(update={"default_dicomweb_base": orthanc.dicomweb_url})
    assert len(run(fhir_client, fhir_base_url, with_default, no_endpoint).images) == 1
    # an Endpoint that does not exist on the FHIR server
    dangling = imaging_study(
        patient_ref=patient,
        study_uid=STUDY,
        endpoint_ref="Endpoint/does-not-exist",
        started=WHEN,
        series=one,
    )
    result = run(fhir_client, fhir_base_url, settings, dangling)
    assert [e.code for e in result.errors] == [FetchErrorCode.NOT_FOUND]
    assert (
        result.errors[0].reason
        == "could not read Endpoint/does-not-exist from the FHIR server (HTTP 404)"
    )


def test_unusable_study_is_one_clear_error(
    setup: tuple[str, str, ImagingSettings], fhir_client: Any, fhir_base_url: str
) -> None:
    patient, endpoint_ref, settings = setup
    registered = fhir_client.create(
        imaging_study(
            patient_ref=patient,
            study_uid=STUDY,
            endpoint_ref=endpoint_ref,
            started=WHEN,
            series=[series(1, (1, OP))],
            status="registered",
        )
    )
    result = run(fhir_client, fhir_base_url, settings, registered)
    assert [(e.code, e.reason) for e in result.errors] == [
        (
            FetchErrorCode.INVALID_RESOURCE,
            f"ImagingStudy/{registered['id']}: status is registered, not available",
        )
    ]


def test_patient_level_fetch_reports_everything(
    setup: tuple[str, str, ImagingSettings], fhir_client: Any, fhir_base_url: str
) -> None:
    patient, endpoint_ref, settings = setup
    fresh = f"Patient/{fhir_client.create({'resourceType': 'Patient'})['id']}"
    fhir_client.create(messy_study(fresh, endpoint_ref))
    with ImageFetcher(fhir_client.gateway, settings, fhir_base_url=fhir_base_url) as fetcher:
        result = fetcher.fetch_for_patient(fresh)
    assert result.summary() == {"images": 3, "errors": 6, "skipped": 1}
