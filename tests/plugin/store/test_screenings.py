"""Screening records over both backends: insert, update of the same screening, latest per
patient and server, JSON round trip, validation, retention."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from plugin.store import Store
from plugin.store.screenings import NewScreening, ScreeningRepository

BASE = "https://ehr.example/fhir/R4"


def new(patient: str = "Patient/1", key: str = "k1", **kw: Any) -> NewScreening:
    fields: dict[str, Any] = {
        "fhir_base": BASE,
        "patient_ref": patient,
        "screening_key": key,
        "status": "complete",
        "image_hashes": ("a" * 64, "b" * 64),
        "grader_model": "g",
        "grader_version": "1",
        "advice_engine": "deepdr-advice-rules",
        "advice_version": "2025.1.0",
        "written": {"diagnostic-report": "DiagnosticReport/9"},
        "problems": [{"image_id": "Media/3", "code": "corrupt"}],
        "summary": {"eyes": [{"eye": "right", "dr_grade": 2}], "referable_any": True},
        "grading": {"eyes": [], "model": {"name": "g", "version": "1"}},
        "advice": {"items": ["x"], "lang": "zh", "summary": "血糖控制"},
        "timings_ms": {"record": 12.5},
    }
    fields.update(kw)
    return NewScreening(**fields)


@pytest.fixture
def repo(store: Store) -> ScreeningRepository:
    return ScreeningRepository(store.db, store.clock)


def test_save_round_trips_every_field(repo: ScreeningRepository) -> None:
    saved = repo.save(new())
    got = repo.get(saved.id)
    assert got == saved
    assert got is not None and got.runs == 1 and got.created_at == got.updated_at
    for name in ("image_hashes", "written", "problems", "summary", "grading", "advice"):
        assert getattr(got, name) == getattr(new(), name)
    assert got.timings_ms == {"record": 12.5}
    assert repo.get("no-such-id") is None


def test_the_same_screening_updates_its_row(repo: ScreeningRepository, clock: Any) -> None:
    first = repo.save(new())
    clock.advance(minutes=5)
    second = repo.save(new(status="partial", written={}, advice=None))
    assert second.id == first.id and second.runs == 2
    assert second.created_at == first.created_at
    assert second.updated_at == first.updated_at + timedelta(minutes=5)  # type: ignore[operator]
    assert (second.status, second.written, second.advice) == ("partial", {}, None)
    assert len(repo.for_patient(BASE, "Patient/1")) == 1


def test_latest_is_per_server_and_patient_newest_first(
    repo: ScreeningRepository, clock: Any
) -> None:
    repo.save(new(key="old"))
    clock.advance(seconds=1)
    newest = repo.save(new(key="new"))
    clock.advance(seconds=1)
    repo.save(new(patient="Patient/2", key="other"))
    repo.save(new(fhir_base="https://other.example/fhir", key="elsewhere"))
    assert repo.latest(BASE + "/", "Patient/1") == newest  # trailing slash: same server
    assert [r.screening_key for r in repo.for_patient(BASE, "Patient/1")] == ["new", "old"]
    assert repo.latest(BASE, "Patient/3") is None
    latest_other = repo.latest("https://other.example/fhir", "Patient/1")
    assert latest_other is not None and latest_other.screening_key == "elsewhere"

    clock.advance(seconds=1)
    rerun = repo.save(new(key="old"))  # running an older screening again makes it latest
    assert repo.latest(BASE, "Patient/1") == rerun


@pytest.mark.parametrize(
    "bad",
    [
        {"patient_ref": "123"},
        {"patient_ref": "Observation/1"},
        {"screening_key": ""},
        {"fhir_base": " "},
        {"status": "done"},
    ],
)
def test_invalid_records_are_refused(repo: ScreeningRepository, bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        repo.save(new(**bad))


def test_purge_older_than(repo: ScreeningRepository, clock: Any) -> None:
    repo.save(new(key="a"))
    clock.advance(days=40)
    kept = repo.save(new(key="b"))
    assert repo.purge_older_than(clock() - timedelta(days=30)) == 1
    assert repo.for_patient(BASE, "Patient/1") == [kept]
