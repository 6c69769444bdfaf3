"""The demo against the real FHIR server: the generated patients load over HTTP, are read
back with patient=Patient/ID searches, and map to the same facts as the Bundles they came
from; `deepdr-fhir demo` runs end to end. The server here is the module's own (the demo
adds patients that other tests' searches should not see)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date

import pytest

from fhir_mappers.inbound import clinical_facts_from_fhir
from models.clinical_facts import ClinicalFacts
from plugin.cli.main import main
from plugin.demo.generate import generate_demo
from plugin.demo.photos import DATA_DIR_ENV, PhotoLibrary
from plugin.demo.run import load_patient, read_record, run_demo
from plugin.demo.scenarios import SCENARIOS
from plugin.fhir import HttpFhirGateway
from plugin.local_servers.fhir_server import LocalFhirServer

pytestmark = pytest.mark.integration
AS_OF = date(2025, 3, 1)


@pytest.fixture(scope="module")
def gateway() -> Iterator[HttpFhirGateway]:
    with LocalFhirServer() as server, HttpFhirGateway(server.base_url, timeout_s=60) as gw:
        assert server.base_url.startswith("http://127.0.0.1:")
        yield gw


def _summary(f: ClinicalFacts) -> dict[str, object]:
    """What must survive the trip through the server (resource ids change, nothing else)."""
    return {
        "age": f.age_years,
        "sex": f.sex,
        "diabetes": (f.diabetes.type, f.diabetes.duration_years) if f.diabetes else None,
        "conditions": [
            (name, fact.present if fact else None)
            for name in ("hypertension", "ckd", "ascvd", "heart_failure", "prior_dr", "prior_dme")
            for fact in [getattr(f, name)]
        ],
        "ckd_stage": f.ckd_stage,
        "pregnancy": f.pregnancy.present if f.pregnancy else None,
        "smoking": f.smoking.status if f.smoking else None,
        "measurements": {
            k: (m.value, m.unit, m.date, m.comparator) for k, m in f.measurements.items()
        },
        "medications": sorted((m.drug_class.value, m.name) for m in f.medications),
        "images": sorted((i.kind.value, i.laterality, i.content_type or "") for i in f.images),
        "warnings": len(f.warnings),
    }


def test_generated_patients_round_trip_through_the_server(
    gateway: HttpFhirGateway, library: PhotoLibrary
) -> None:
    patients = generate_demo(seed=11, as_of=AS_OF, library=library)
    for demo in patients:
        pid = load_patient(gateway, demo)
        record = read_record(gateway, pid)
        served = clinical_facts_from_fhir(record, as_of=AS_OF, patient_id=pid)
        local = clinical_facts_from_fhir(demo.bundle, as_of=AS_OF)
        assert served.patient_ref == f"Patient/{pid}"
        assert _summary(served) == _summary(local), demo.scenario.key
        for m in served.measurements.values():
            assert m.source.startswith("Observation/") and "urn:uuid" not in m.source
        assert len(served.images) == len(demo.photos)


def test_a_patients_search_does_not_return_another_patients_record(
    gateway: HttpFhirGateway, library: PhotoLibrary
) -> None:
    first, second = generate_demo(seed=12, as_of=AS_OF, library=library)[:2]
    a, b = load_patient(gateway, first), load_patient(gateway, second)
    record_a = read_record(gateway, a)
    subjects = {r["subject"]["reference"] for r in record_a if isinstance(r.get("subject"), dict)}
    assert subjects == {f"Patient/{a}"} and b != a


def test_demo_json_output(gateway: HttpFhirGateway, library: PhotoLibrary) -> None:
    lines: list[str] = []
    run_demo(
        seed=3,
        as_of=AS_OF,
        json_output=True,
        out=lines.append,
        library=library,
        base_url=gateway.base_url,
    )
    (text,) = lines
    results = json.loads(text)
    assert [r["scenario"] for r in results] == [s.key for s in SCENARIOS]
    for r in results:
        facts = ClinicalFacts.model_validate(r["facts"])
        assert facts.patient_ref == r["patient"] and facts.diabetes is not None
        assert len(facts.images) == len(r["photos"]) >= 1


def test_demo_command_end_to_end(
    photo_root: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `make demo` runs: starts its own servers, loads, screens, prints, stops."""
    monkeypatch.setenv(DATA_DIR_ENV, str(photo_root))
    assert main(["demo", "--as-of", AS_OF.isoformat()]) == 0
    out = capsys.readouterr().out
    assert out.startswith("FHIR server (Medplum in-memory router) at http://127.0.0.1:")
    assert "PACS (Orthanc, DICOMweb) at http://127.0.0.1:" in out
    assert out.count("\n=== ") == len(SCENARIOS)
    # Each scenario has a photograph, each photograph its AI and dataset lines.
    assert out.count("\n             dataset  ") >= len(SCENARIOS)
    ai_lines = re.findall(r"^  (?:Right|Left|Unknown) eye +AI ", out, flags=re.M)
    assert out.count("\n             dataset  ") == len(ai_lines)
    assert out.count("  Facts      ") == out.count("  Advice     ") == len(SCENARIOS)
    assert "photographs via DICOMweb" in out and "photographs as Media" in out
    assert "photographs as DocumentReference" in out
    assert "Fundus photographs: S. Rahim" in out and "Servers stopped." in out


def test_demo_without_photos_says_so(gateway: HttpFhirGateway) -> None:
    lines: list[str] = []
    run_demo(seed=3, as_of=AS_OF, out=lines.append, library=None, base_url=gateway.base_url)
    assert "No fundus photographs attached" in lines[-1]
    assert not any("Dataset grades" in line for line in lines)
