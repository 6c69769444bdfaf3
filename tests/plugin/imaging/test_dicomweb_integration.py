"""ImagingStudy -> Endpoint -> WADO-RS against a real Orthanc and the real FHIR server:
the pixels retrieved are the pixels stored, for each transfer syntax and both retrieval
modes; QIDO-RS when the study lists no instances; bearer and shared-FHIR-token PACS auth."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from models.clinical_facts import ImageRef, ImageSourceKind
from models.grader.result import Laterality
from plugin.imaging.config import (
    BasicAuth,
    BearerAuth,
    FhirTokenAuth,
    ImagingSettings,
    OriginCredentials,
)
from plugin.imaging.decode import read_dicom
from plugin.imaging.fetcher import ImageFetcher
from plugin.imaging.results import ImageFetchResult
from plugin.imaging.studies import pixel_sha256
from plugin.local_servers.dicom_testdata import (
    FundusSource,
    LoadedStudy,
    fundus_images_dir,
    load_fundus_study,
)
from plugin.local_servers.dicom_testdata_fhir import SeriesSpec, dicomweb_endpoint, imaging_study
from plugin.local_servers.orthanc import LocalOrthanc

pytestmark = pytest.mark.integration

TRANSFER_SYNTAXES = ("explicit-le", "jpeg-baseline", "jpeg2000-lossless")
EYES = {"R": "Patient002_R.jpg", "L": "Patient002_L.jpg"}


@pytest.fixture(scope="module")
def fundus() -> Path:
    folder = fundus_images_dir()
    if not (folder / EYES["R"]).is_file():
        pytest.skip(f"shared fundus images not found at {folder} (set DEEPDR_DATA_DIR)")
    return folder


@pytest.fixture(scope="module")
def pacs_settings(orthanc: LocalOrthanc, pacs_password: str) -> ImagingSettings:
    cred = OriginCredentials(
        base_url=orthanc.dicomweb_url, auth=BasicAuth(username="deepdr", password=pacs_password)
    )
    return ImagingSettings(credentials=(cred,))


def new_patient(fhir_client: Any) -> str:
    created = fhir_client.create({"resourceType": "Patient", "name": [{"family": "Imaging"}]})
    return f"Patient/{created['id']}"


@pytest.fixture(scope="module")
def studies(
    fhir_client: Any, orthanc: LocalOrthanc, fundus: Path
) -> dict[str, tuple[str, LoadedStudy]]:
    """One patient and one study (right + left eye) per transfer syntax."""
    out = {}
    for ts in TRANSFER_SYNTAXES:
        patient = new_patient(fhir_client)
        sources = [FundusSource(fundus / name, eye) for eye, name in EYES.items()]  # type: ignore[arg-type]
        loaded = load_fundus_study(
            fhir_client,
            orthanc.dicomweb_url,
            patient,
            sources,
            transfer_syntax=ts,
            pacs_auth=orthanc.auth,
        )
        out[ts] = (patient, loaded)
    return out


def fetch(
    fhir_client: Any, fhir_base_url: str, settings: ImagingSettings, patient: str
) -> ImageFetchResult:
    with ImageFetcher(fhir_client.gateway, settings, fhir_base_url=fhir_base_url) as fetcher:
        return fetcher.fetch_for_patient(patient)


def source_pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.mark.parametrize("mode", ["instance", "frames"])
@pytest.mark.parametrize("ts", TRANSFER_SYNTAXES)
def test_retrieved_pixels_equal_the_stored_pixels(
    ts: str,
    mode: str,
    studies: dict[str, tuple[str, LoadedStudy]],
    fhir_client: Any,
    fhir_base_url: str,
    pacs_settings: ImagingSettings,
    fundus: Path,
) -> None:
    patient, loaded = studies[ts]
    settings = pacs_settings.model_copy(update={"retrieve": mode})
    result = fetch(fhir_client, fhir_base_url, settings, patient)
    assert result.errors == [] and result.skipped == []
    assert len(result.images) == 2
    by_eye = {img.laterality: img for img in result.images}
    assert set(by_eye) == {Laterality.RIGHT, Laterality.LEFT}
    for eye, name in EYES.items():
        img = by_eye[Laterality.RIGHT if eye == "R" else Laterality.LEFT]
        series_uid, _, (instance_uid,) = next(s for s in loaded.series if s[1] == eye)
        assert img.image_id == f"{loaded.imaging_study_ref}/{series_uid}/{instance_uid}"
        assert img.source_ref == loaded.imaging_study_ref
        assert img.source_kind is ImageSourceKind.IMAGING_STUDY
        assert img.laterality_source == "ImagingStudy.series.laterality"
        assert img.acquired is not None and img.acquired.isoformat() == "2024-01-15"
        assert (img.study_uid, img.series_uid, img.instance_uid) == (
            loaded.study_uid,
            series_uid,
            instance_uid,
        )
        stored = read_dicom(loaded.instances[instance_uid])
        original_jpeg = (fundus / name).read_bytes()
        if ts == "explicit-le":
            # lossless: hash of what we got == hash of the pixel data we stored
            stored_rgb = np.frombuffer(stored.PixelData, np.uint8).reshape(
                stored.Rows, stored.Columns, 3
            )
            assert img.sha256 == pixel_sha256(np.ascontiguousarray(stored_rgb))
        elif ts == "jpeg-baseline":
            assert img.encoded == original_jpeg  # the encapsulated bytes, unchanged
            np.testing.assert_array_equal(img.rgb, source_pixels(fundus / name))
        else:
            # lossless J2K of the decoded JPEG: exactly the decoded JPEG
            assert img.sha256 == pixel_sha256(source_pixels(fundus / name))
        assert img.transfer_syntax_uid == str(stored.file_meta.TransferSyntaxUID)


def test_the_same_photo_hashes_the_same_whatever_the_lossless_transfer_syntax(
    studies: dict[str, tuple[str, LoadedStudy]],
    fhir_client: Any,
    fhir_base_url: str,
    pacs_settings: ImagingSettings,
) -> None:
    hashes = {}
    for ts in ("explicit-le", "jpeg2000-lossless", "jpeg-baseline"):
        result = fetch(fhir_client, fhir_base_url, pacs_settings, studies[ts][0])
        hashes[ts] = {img.laterality: img.sha256 for img in result.images}
    assert hashes["explicit-le"] == hashes["jpeg2000-lossless"] == hashes["jpeg-baseline"]


def test_series_without_instance_list_and_study_without_series_use_qido(
    studies: dict[str, tuple[str, LoadedStudy]],
    fhir_client: Any,
    fhir_base_url: str,
    pacs_settings: ImagingSettings,
    orthanc: LocalOrthanc,
) -> None:
    patient, loaded = studies["jpeg-baseline"]
    endpoint = fhir_client.create(dicomweb_endpoint(orthanc.dicomweb_url))
    specs = [
        SeriesSpec(
            uid, 1, None, [], with_laterality=False, with_body_site=False, list_instances=False
        )
        for uid, _, _ in loaded.series
    ]
    no_instances = imaging_study(
        patient_ref=patient,
        study_uid=loaded.study_uid,
        series=specs,
        endpoint_ref=f"Endpoint/{endpoint['id']}",
        started=datetime(2024, 1, 15),
    )
    no_series = {**no_instances, "series": []}
    for resource in (no_instances, no_series):
        with ImageFetcher(
            fhir_client.gateway, pacs_settings, fhir_base_url=fhir_base_url
        ) as fetcher:
            result = fetcher.fetch_resource(resource)
        assert result.errors == []
        # laterality now comes from the DICOM header (ImageLaterality)
        assert sorted(i.laterality for i in result.images) == [Laterality.LEFT, Laterality.RIGHT]
        assert {i.laterality_source for i in result.images} == {"DICOM ImageLaterality (0020,0062)"}


@pytest.fixture
def bearer_study(
    bearer_pacs: tuple[str, str], studies: dict[str, tuple[str, LoadedStudy]], fhir_client: Any
) -> Iterator[dict[str, Any]]:
    """The jpeg-baseline study again, its Endpoint pointing at the bearer-token proxy."""
    address, _ = bearer_pacs
    patient, loaded = studies["jpeg-baseline"]
    study = fhir_client.read(*loaded.imaging_study_ref.split("/"))
    endpoint = fhir_client.create(dicomweb_endpoint(address))
    yield {**study, "endpoint": [{"reference": f"Endpoint/{endpoint['id']}"}]}


def test_pacs_with_its_own_bearer_token(
    bearer_study: dict[str, Any], bearer_pacs: tuple[str, str], fhir_client: Any, fhir_base_url: str
) -> None:
    address, token = bearer_pacs
    good = ImagingSettings(
        credentials=(OriginCredentials(base_url=address, auth=BearerAuth(token=token)),)
    )
    with ImageFetcher(fhir_client.gateway, good, fhir_base_url=fhir_base_url) as fetcher:
        result = fetcher.fetch_resource(bearer_study)
    assert len(result.images) == 2 and result.errors == []
    wrong = ImagingSettings(
        credentials=(OriginCredentials(base_url=address, auth=BearerAuth(token="nope")),)
    )
    with ImageFetcher(fhir_client.gateway, wrong, fhir_base_url=fhir_base_url) as fetcher:
        result = fetcher.fetch_resource(bearer_study)
    assert result.images == [] and [e.code.value for e in result.errors] == ["unauthorized"] * 2


def test_pacs_sharing_the_ehr_authorization_gets_the_fhir_token(
    bearer_study: dict[str, Any], bearer_pacs: tuple[str, str], fhir_client: Any, fhir_base_url: str
) -> None:
    address, token = bearer_pacs
    shared = ImagingSettings(
        credentials=(OriginCredentials(base_url=address, auth=FhirTokenAuth()),)
    )
    with ImageFetcher(
        fhir_client.gateway, shared, fhir_base_url=fhir_base_url, fhir_token=lambda: token
    ) as f:
        assert len(f.fetch_resource(bearer_study).images) == 2
    # not configured as shared: the FHIR token is not sent to that origin
    with ImageFetcher(
        fhir_client.gateway,
        ImagingSettings(),
        fhir_base_url=fhir_base_url,
        fhir_token=lambda: token,
    ) as f:
        result = f.fetch_resource(bearer_study)
    assert result.images == [] and {e.code.value for e in result.errors} == {"unauthorized"}


def test_image_refs_from_clinical_facts_narrow_to_one_instance(
    studies: dict[str, tuple[str, LoadedStudy]],
    fhir_client: Any,
    fhir_base_url: str,
    pacs_settings: ImagingSettings,
) -> None:
    _, loaded = studies["explicit-le"]
    series_uid, eye, (instance_uid,) = loaded.series[0]
    ref = ImageRef(
        source=loaded.imaging_study_ref,
        kind=ImageSourceKind.IMAGING_STUDY,
        study_uid=loaded.study_uid,
        series_uid=series_uid,
        instance_uid=instance_uid,
    )
    whole = ImageRef(source=loaded.imaging_study_ref, kind=ImageSourceKind.IMAGING_STUDY)
    with ImageFetcher(fhir_client.gateway, pacs_settings, fhir_base_url=fhir_base_url) as fetcher:
        one = fetcher.fetch_refs([ref])
        both = fetcher.fetch_refs([ref, whole])
    assert [i.instance_uid for i in one.images] == [instance_uid]
    assert len(both.images) == 2


def test_stored_instances_carry_the_fhir_patient_identifier(
    studies: dict[str, tuple[str, LoadedStudy]],
) -> None:
    patient, loaded = studies["explicit-le"]
    for data in loaded.instances.values():
        ds = read_dicom(data)
        assert ds.PatientID == patient.split("/")[1]
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.77.1.5.1" and ds.Modality == "OP"
        assert ds.ImageLaterality in ("L", "R")
