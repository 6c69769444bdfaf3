"""The demo data generator: deterministic, valid FHIR R4, every scenario says what it is
meant to say once mapped, photographs attached with their dataset grades."""

from __future__ import annotations

import base64
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from fhir_mappers.inbound import clinical_facts_from_fhir
from models.clinical_facts import ClinicalFacts, DiabetesType, MedicationClass, SmokingStatus
from plugin.cli.main import main
from plugin.demo.generate import DemoPatient, export_demo, generate_demo, manifest
from plugin.demo.photos import DATA_DIR_ENV, PhotoLibrary
from plugin.demo.scenarios import SCENARIOS

AS_OF = date(2025, 3, 1)


@pytest.fixture
def demo(library: PhotoLibrary) -> dict[str, DemoPatient]:
    return {p.scenario.key: p for p in generate_demo(seed=7, as_of=AS_OF, library=library)}


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return own + [r for v in node.values() for r in _references(v)]
    if isinstance(node, list):
        return [r for v in node for r in _references(v)]
    return []


def _facts(p: DemoPatient) -> ClinicalFacts:
    return clinical_facts_from_fhir(p.bundle, as_of=AS_OF)


def test_deterministic_for_a_seed(library: PhotoLibrary) -> None:
    a = generate_demo(seed=7, as_of=AS_OF, library=library)
    b = generate_demo(seed=7, as_of=AS_OF, library=library)
    c = generate_demo(seed=8, as_of=AS_OF, library=library)
    assert [p.bundle for p in a] == [p.bundle for p in b]
    assert [p.bundle for p in a] != [p.bundle for p in c]
    assert [p.scenario.key for p in a] == [s.key for s in SCENARIOS]
    assert 6 <= len(a) <= 10


def test_bundles_are_valid_fhir_r4_transactions(demo: dict[str, DemoPatient]) -> None:
    for p in demo.values():
        bundle = p.bundle
        assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
        urls = [e["fullUrl"] for e in bundle["entry"]]
        assert len(set(urls)) == len(urls) and all(u.startswith("urn:uuid:") for u in urls)
        refs = _references(bundle)
        assert any(r.startswith("urn:uuid:") for r in refs)
        for ref in refs:  # every reference is internal and resolves
            assert ref in urls or ref.startswith("#"), ref
        for e in bundle["entry"]:
            assert e["request"]["method"] == "POST"
            resource = e["resource"]
            get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def test_photos_are_attached_with_their_grades(demo: dict[str, DemoPatient]) -> None:
    for key, p in demo.items():
        scenario = p.scenario
        entries = [
            e["resource"]
            for e in p.bundle["entry"]
            if e["resource"]["resourceType"] in ("Media", "DocumentReference")
        ]
        assert len(entries) == len(p.photos) >= 1, key
        assert max(ph.dr_grade for ph in p.photos) == scenario.photo_grade or key == "missing-labs"
        for resource in entries:
            att = (
                resource["content"]
                if resource["resourceType"] == "Media"
                else resource["content"][0]["attachment"]
            )
            name = resource["identifier"][0]["value"]
            photo = next(ph for ph in p.photos if ph.name == name)
            assert base64.b64decode(att["data"]) == photo.path.read_bytes()
            assert att["contentType"] == "image/jpeg"
    facts = _facts(demo["type2-ckd"])
    assert sorted(i.laterality for i in facts.images) == ["left", "right"]
    assert manifest(list(demo.values()))["patients"][1]["photos"][0]["dr_grade"] == 2


def test_without_photos_no_images_are_attached() -> None:
    patients = generate_demo(seed=7, as_of=AS_OF, library=None)
    for p in patients:
        types = {e["resource"]["resourceType"] for e in p.bundle["entry"]}
        assert not types & {"Media", "DocumentReference"} and p.photos == ()


def test_type1_young(demo: dict[str, DemoPatient]) -> None:
    f = _facts(demo["type1-young"])
    assert f.age_years == 23 and f.sex.value == "female"
    assert f.diabetes is not None and f.diabetes.type == DiabetesType.TYPE1
    assert f.diabetes.duration_years is not None and 14 <= f.diabetes.duration_years <= 16
    assert f.smoking is not None and f.smoking.status == SmokingStatus.NEVER
    assert {m.drug_class for m in f.medications} == {MedicationClass.INSULIN}
    assert {"hba1c", "fasting_glucose", "sbp", "dbp", "bmi", "egfr", "uacr"} <= set(f.measurements)
    assert f.warnings == ()


def test_type2_with_ckd(demo: dict[str, DemoPatient]) -> None:
    f = _facts(demo["type2-ckd"])
    assert f.diabetes is not None and f.diabetes.type == DiabetesType.TYPE2
    assert f.ckd_stage == "3b" and f.hypertension is not None and f.prior_dr is not None
    assert f.value("uacr") == pytest.approx(12.5 * 8.84, abs=0.01)  # sent as mg/mmol
    assert f.value("ast") == 27  # IU/L text with [IU]/L code
    assert {m.drug_class for m in f.medications} == {
        MedicationClass.METFORMIN,
        MedicationClass.SGLT2I,
        MedicationClass.ACEI,
        MedicationClass.STATIN,
    }
    assert f.warnings == ()


def test_elderly_frail(demo: dict[str, DemoPatient]) -> None:
    f = _facts(demo["elderly-frail"])
    assert f.age_years is not None and f.age_years >= 83
    assert f.heart_failure and f.ascvd and f.ckd
    assert f.measurements["hba1c"].date is not None
    assert (AS_OF - f.measurements["hba1c"].date).days > 365  # an old HbA1c
    classes = {m.drug_class for m in f.medications}
    assert MedicationClass.METFORMIN not in classes  # stopped
    assert {MedicationClass.SULFONYLUREA, MedicationClass.LOOP_DIURETIC} <= classes


def test_pregnant(demo: dict[str, DemoPatient]) -> None:
    f = _facts(demo["pregnant"])
    assert f.pregnancy is not None and f.pregnancy.present
    assert {m.drug_class for m in f.medications} == {MedicationClass.INSULIN}


def test_smoker_with_us_units(demo: dict[str, DemoPatient]) -> None:
    f = _facts(demo["smoker-us-units"])
    assert f.smoking is not None and f.smoking.status == SmokingStatus.CURRENT
    assert f.value("hba1c") == pytest.approx(64 * 0.09148 + 2.152, abs=0.01)
    assert f.value("fasting_glucose") == pytest.approx(168 / 18.016, abs=0.01)
    assert f.measurements["bmi"].derived_from  # from pounds and inches
    assert {MedicationClass.GLP1RA, MedicationClass.SGLT2I, MedicationClass.METFORMIN} <= {
        m.drug_class for m in f.medications
    }


def test_chinese_record(demo: dict[str, DemoPatient]) -> None:
    f = _facts(demo["chinese-record"])
    assert f.diabetes is not None and f.diabetes.type == DiabetesType.TYPE2
    assert f.prior_dr is not None and f.hypertension is not None
    assert f.value("ggt") == 54  # 0.9 µkat/L
    assert {m.drug_class for m in f.medications} == {
        MedicationClass.METFORMIN,
        MedicationClass.ALPHA_GLUCOSIDASE_INHIBITOR,
        MedicationClass.DPP4I,
        MedicationClass.STATIN,
        MedicationClass.ARB,
    }


def test_missing_labs(demo: dict[str, DemoPatient]) -> None:
    f = _facts(demo["missing-labs"])
    assert set(f.measurements) == {"weight", "height"}  # no BMI: height three years older
    assert f.diabetes is not None and f.diabetes.duration_years == pytest.approx(0.3, abs=0.05)
    assert len(f.images) == 1 and f.images[0].laterality == "left"


def test_messy(demo: dict[str, DemoPatient]) -> None:
    f = _facts(demo["messy"])
    assert f.hypertension is None  # refuted
    assert f.diabetes is not None and f.diabetes.type == DiabetesType.TYPE2  # not gestational
    assert f.value("hba1c") == 7.2  # the entered-in-error 17.5 % is ignored
    assert "fasting_glucose" not in f.measurements and "sbp" not in f.measurements
    assert f.value("dbp") == 84
    assert f.measurements["egfr"].comparator == ">" and f.measurements["uacr"].comparator == "<"
    assert f.value("ldl") == 2.6 and f.value("heart_rate") == 88
    assert {m.drug_class for m in f.medications} == {MedicationClass.STATIN, MedicationClass.DPP4I}
    assert sorted(i.laterality for i in f.images) == ["left", "right"]
    joined = "\n".join(f.warnings)
    for expected in (
        "ignored (verificationStatus refuted)",
        "ignored (verificationStatus entered-in-error)",
        "ignored (status entered-in-error)",
        "unknown unit 'mg/dl/h'",
        "sbp (LOINC 8480-6): value outside plausible range",
    ):
        assert expected in joined


def test_export_writes_bundles_the_facts_command_reads(
    tmp_path: Path, library: PhotoLibrary, capsys: pytest.CaptureFixture[str]
) -> None:
    written = export_demo(generate_demo(seed=7, as_of=AS_OF, library=library), tmp_path)
    assert [p.name for p in written][-1] == "manifest.json" and len(written) == len(SCENARIOS) + 1
    assert main(["facts", str(written[1]), "--as-of", AS_OF.isoformat(), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["ckd_stage"] == "3b"


def test_demo_export_command(
    tmp_path: Path,
    photo_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(photo_root))
    out = tmp_path / "demo"
    assert main(["demo", "--export", str(out), "--as-of", "2025-03-01", "--seed", "7"]) == 0
    assert f"wrote {len(SCENARIOS) + 1} files" in capsys.readouterr().out
    data: Any = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert all(p["photos"] for p in data["patients"])
    (tmp_path / "file").write_text("x")
    assert main(["demo", "--export", str(tmp_path / "file")]) == 2
    assert "exists and is not a directory" in capsys.readouterr().err


def test_photo_library_is_optional(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert PhotoLibrary.open(tmp_path) is None
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    assert PhotoLibrary.open() is None


def test_pick_takes_the_nearest_grade(library: PhotoLibrary) -> None:
    import random

    pair = library.pick(random.Random(1), 2, maculopathy=True)
    assert max(p.dr_grade for p in pair.values()) == 2 and any(p.maculopathy for p in pair.values())
    pair = library.pick(random.Random(1), 0)
    assert {p.name for p in pair.values()} == {
        "srahim-dr600/Patient001_L.jpg",
        "srahim-dr600/Patient001_R.jpg",
    }
