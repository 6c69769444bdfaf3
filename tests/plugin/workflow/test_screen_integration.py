"""`deepdr-fhir screen` end to end over real HTTP: the real FHIR server (Medplum), a real
Orthanc (DICOMweb, basic auth from the TOML config), photographs as an ImagingStudy, an
inline Media and a broken Media, graded by a tiny real ONNX model. Run twice: the second
run takes every grading from the cache and writes nothing new."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plugin.cli import screen_cmd
from plugin.cli.main import main
from plugin.fhir import HttpFhirGateway
from plugin.local_servers.dicom_testdata import FundusSource, fundus_images_dir, load_fundus_study
from plugin.local_servers.orthanc import LocalOrthanc
from plugin.store import open_store
from plugin.store.screenings import ScreeningRepository

pytestmark = pytest.mark.integration

PACS_USER = "deepdr"
PACS_PASSWORD = "pacs-secret-7f3a"
SNOMED = "http://snomed.info/sct"


@pytest.fixture(scope="module")
def fundus() -> Path:
    folder = fundus_images_dir()
    if not (folder / "Patient003_R.jpg").is_file():
        pytest.skip(f"shared fundus images not found at {folder} (set DEEPDR_DATA_DIR)")
    return folder


@pytest.fixture(scope="module")
def orthanc() -> Iterator[LocalOrthanc]:
    with LocalOrthanc(users={PACS_USER: PACS_PASSWORD}) as pacs:
        yield pacs


@pytest.fixture
def gateway(fhir_base_url: str) -> Iterator[HttpFhirGateway]:
    with HttpFhirGateway(fhir_base_url) as gw:
        yield gw


def _patient(gw: HttpFhirGateway) -> str:
    ref = gw.create(
        {"resourceType": "Patient", "gender": "male", "birthDate": "1958-09-12"}
    ).reference
    gw.create(
        {
            "resourceType": "Condition",
            "code": {"coding": [{"system": SNOMED, "code": "44054006"}]},
            "subject": {"reference": ref},
            "onsetDateTime": "2012-01-01",
        }
    )
    gw.create(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
            "subject": {"reference": ref},
            "effectiveDateTime": "2026-01-20",
            "valueQuantity": {"value": 7.9, "unit": "%", "code": "%"},
        }
    )
    return ref


def _media(gw: HttpFhirGateway, patient: str, eye: str, data: bytes) -> str:
    code = {"right": "18944008", "left": "8966001"}[eye]
    return gw.create(
        {
            "resourceType": "Media",
            "status": "completed",
            "modality": {
                "coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "OP"}]
            },
            "subject": {"reference": patient},
            "createdDateTime": "2026-02-10",
            "bodySite": {"coding": [{"system": SNOMED, "code": code}]},
            "content": {"contentType": "image/jpeg", "data": base64.b64encode(data).decode()},
        }
    ).reference


def _config(tmp_path: Path, pacs: LocalOrthanc) -> Path:
    path = tmp_path / "deepdr.toml"
    path.write_text(
        f"""
[store]
url = "sqlite:///{tmp_path}/store.sqlite3"

[[imaging.credentials]]
base_url = "{pacs.dicomweb_url}"
auth = {{ kind = "basic", username = "{PACS_USER}", password = "{PACS_PASSWORD}" }}
""",
        encoding="utf-8",
    )
    return path


def _count(gw: HttpFhirGateway, rtype: str, patient: str) -> int:
    return len(gw.search(rtype, [("subject", patient), ("_count", "100")]).resources)


def _screen(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code = main(["screen", *args, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def test_screen_twice_writes_once_caches_and_reports_the_broken_image(
    kit: Any,
    gateway: HttpFhirGateway,
    orthanc: LocalOrthanc,
    fundus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    patient = _patient(gateway)
    study = load_fundus_study(
        gateway,
        orthanc.dicomweb_url,
        patient,
        [
            FundusSource(fundus / "Patient003_R.jpg", "R"),
            FundusSource(fundus / "Patient003_L.jpg", "L"),
        ],
        pacs_auth=orthanc.auth,
    )
    inline = _media(gateway, patient, "right", (fundus / "Patient004_R.jpg").read_bytes())
    broken = _media(gateway, patient, "left", b"\xff\xd8\xff\xe0 truncated jpeg")
    grader = kit.TinyOnnxGrader()
    monkeypatch.setattr(screen_cmd, "configured_grader", lambda settings, bundle=None: grader)
    args = ("--fhir-server", gateway.base_url, "--patient", patient.split("/")[1])
    args += ("--config", str(_config(tmp_path, orthanc)))

    first = _screen(capsys, *args)

    assert first["status"] == "partial" and first["patient"] == patient
    assert [(p["source_ref"], p["stage"]) for p in first["problems"]] == [(broken, "retrieve")]
    images = first["summary"]["images"]
    assert (images["retrieved"], images["graded"], images["cache_hits"]) == (3, 3, 0)
    assert [e["eye"] for e in first["summary"]["eyes"]] == ["right", "left"]
    assert first["summary"]["eyes"][0]["images"] == 2  # DICOM + inline Media
    written = first["written"]
    assert written and all(ref.count("/") == 1 for ref in written.values())
    made = {name for name, created in first["created"].items() if created}
    assert made >= set(written) - {"device/fundus-grader", "device/advice-engine"}
    report = gateway.read("DiagnosticReport", written["diagnostic-report"].split("/")[1])
    assert report["status"] == "preliminary"
    assert report["imagingStudy"] == [{"reference": study.imaging_study_ref}]
    assert report["media"] == [{"link": {"reference": inline}}]
    counts = {t: _count(gateway, t, patient) for t in ("DiagnosticReport", "Observation")}
    counts["CarePlan"] = _count(gateway, "CarePlan", patient)
    assert counts["DiagnosticReport"] == 1 and counts["CarePlan"] == 1
    assert grader.graded_count == 3

    second = _screen(capsys, *args)

    assert second["screening_id"] == first["screening_id"]
    images = second["summary"]["images"]
    assert (images["retrieved"], images["graded"], images["cache_hits"]) == (3, 0, 3)
    assert grader.graded_count == 3  # nothing re-graded
    assert second["written"] == written and not any(second["created"].values())
    for rtype, n in counts.items():
        assert _count(gateway, rtype, patient) == n, rtype
    provenances = gateway.search("Provenance", [("target", written["diagnostic-report"])])
    assert len(provenances.resources) == 1

    with open_store(f"sqlite:///{tmp_path}/store.sqlite3") as store:
        latest = ScreeningRepository(store.db).latest(gateway.base_url, patient)
    assert latest is not None and latest.runs == 2 and latest.status == "partial"
    assert latest.written == written and len(latest.image_hashes) == 3

    code = main(["screen", *args, "--no-write"])
    text, _ = capsys.readouterr()
    assert code == 0
    assert "right   " in text and "Written:  nothing (--no-write)" in text
    assert f"problem: {broken} [retrieve" in text
