"""ScreeningService.screen over the in-memory FHIR gateway, a fake grader and a real SQLite
store: what is written, what is cached, what is recorded, and every typed failure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from models.advice import Engine, Lang
from models.clinical_facts import Population
from models.grader.result import Laterality
from plugin.fhir.errors import FhirAuthError, FhirInvalid
from plugin.fhir.gateway import JSON, SearchParams, SearchResult, TransactionResult
from plugin.fhir.memory import InMemoryFhirGateway
from plugin.store import Store
from plugin.workflow import (
    AdviceUnavailable,
    GraderUnavailable,
    ImagingErrors,
    InvalidRequest,
    NoImages,
    PatientNotFound,
    ScreeningOptions,
    ScreeningService,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def service(gateway: Any, store: Store, grader: Any = None, **kw: Any) -> ScreeningService:
    return ScreeningService(gateway, store=store, grader=grader, clock=lambda: NOW, **kw)


def count(gateway: InMemoryFhirGateway, rtype: str, patient: str) -> int:
    return len(gateway.search(rtype, [("subject", patient)]).resources)


def test_screen_writes_preliminary_results_records_and_reports_progress(
    kit: Any, gateway: Any, store: Store, grader: Any
) -> None:
    rec = kit.make_record(gateway, {"right": (230, 40, 40), "left": (60, 20, 20)})
    seen: list[tuple[str, int]] = []
    result = service(gateway, store, grader).screen(
        rec.patient_ref, progress=lambda stage, pct: seen.append((stage, pct))
    )

    assert result.status == "complete" and result.problems == ()
    grading = result.grading.grading if result.grading else None
    assert grading is not None
    right, left = grading.eye(Laterality.RIGHT), grading.eye(Laterality.LEFT)
    assert right and right.decisive and right.decisive.dr_grade
    assert left and left.decisive and left.decisive.dr_grade
    assert (right.decisive.dr_grade.grade, left.decisive.dr_grade.grade) == (4, 1)
    assert result.referral is not None and result.referral.priority == "urgent"
    assert result.referral.eyes == (Laterality.RIGHT,)

    written = result.written
    assert written is not None
    report = gateway.read("DiagnosticReport", written.references["diagnostic-report"][17:])
    assert report["status"] == "preliminary"
    assert report["subject"] == {"reference": rec.patient_ref}
    assert {m["link"]["reference"] for m in report["media"]} == set(rec.media_refs.values())
    plan = gateway.read("CarePlan", written.references["care-plan"].split("/")[1])
    assert (plan["status"], plan["intent"]) == ("draft", "proposal")
    assert plan["addresses"] == [{"reference": rec.condition_ref}]
    assert "service-request" not in written.references  # a referral is only suggested

    assert [s for s, _ in seen] == ["record", "images", "grade", "advise", "write", "store"]
    assert [p for _, p in seen] == sorted(p for _, p in seen) and seen[-1][1] == 100

    stored = service(gateway, store, grader).latest(rec.patient_ref)
    assert stored is not None and stored.id == result.screening_id
    assert stored.status == "complete" and stored.runs == 1
    assert stored.grader_model == "fake-grader" and stored.grader_version == "1.0"
    assert stored.written == written.references
    assert set(stored.image_hashes) == {img.sha256 for img in result.images.images}
    assert stored.summary["referable_any"] is True
    assert [e["eye"] for e in stored.summary["eyes"]] == ["right", "left"]
    assert stored.summary["advice"]["items"] == len(result.advice.items) > 0  # type: ignore[union-attr]
    assert set(result.timings_ms) == {"record", "images", "grade", "advise", "write", "store"}
    assert set(stored.timings_ms) == set(result.timings_ms) - {"store"}  # saved during "store"


def test_second_run_uses_the_cache_and_duplicates_nothing(
    kit: Any, gateway: Any, store: Store, grader: Any
) -> None:
    rec = kit.make_record(gateway, {"right": (120, 0, 0), "left": (30, 0, 0)})
    first = service(gateway, store, grader).screen(rec.patient_ref)
    counts = {t: count(gateway, t, rec.patient_ref) for t in ("Observation", "DiagnosticReport")}
    prov = len(gateway.search("Provenance", []).resources)

    second = service(gateway, store, grader).screen(rec.patient_ref)

    assert first.grading and second.grading
    assert (first.grading.cache_hits, first.grading.graded) == (0, 2)
    assert (second.grading.cache_hits, second.grading.graded) == (2, 0)
    assert grader.graded_count == 2
    assert second.written and second.written.created_count == 0
    assert second.written.references == first.written.references  # type: ignore[union-attr]
    assert {t: count(gateway, t, rec.patient_ref) for t in counts} == counts
    assert len(gateway.search("Provenance", []).resources) == prov
    assert second.screening_id == first.screening_id and second.stored.runs == 2
    assert (
        len(
            service(gateway, store, grader).screenings.for_patient(
                gateway.base_url, rec.patient_ref
            )
        )
        == 1
    )


def test_a_new_model_version_grades_again_and_writes_a_new_report(
    kit: Any, gateway: Any, store: Store
) -> None:
    rec = kit.make_record(gateway, {"right": (120, 0, 0)})
    first = service(gateway, store, kit.FakeGrader("1.0")).screen(rec.patient_ref)
    newer = kit.FakeGrader("2.0")
    second = service(gateway, store, newer).screen(rec.patient_ref)
    assert newer.graded_count == 1 and second.grading and second.grading.cache_hits == 0
    assert second.screening_key != first.screening_key
    assert count(gateway, "DiagnosticReport", rec.patient_ref) == 2
    latest = service(gateway, store, newer).latest(rec.patient_ref)
    assert latest is not None and latest.grader_version == "2.0"


def test_an_unreadable_image_is_a_listed_problem_not_a_failure(
    kit: Any, gateway: Any, store: Store, grader: Any
) -> None:
    rec = kit.make_record(gateway, {"right": (120, 0, 0)})
    broken = rec.add_media("left", b"\x89PNG\r\n\x1a\n not really a png")
    result = service(gateway, store, grader).screen(rec.patient_ref)
    assert result.status == "partial"
    assert [(p.source_ref, p.stage) for p in result.problems] == [(broken, "retrieve")]
    assert result.written and "diagnostic-report" in result.written.references
    stored = result.stored
    assert stored.status == "partial" and stored.problems[0]["source_ref"] == broken
    assert stored.summary["images"]["problems"] == 1


def test_an_image_the_grader_refuses_is_listed_and_not_cached(
    kit: Any, gateway: Any, store: Store
) -> None:
    rec = kit.make_record(gateway, {"right": (120, 0, 0), "left": (0, 0, 0)})
    grader = kit.FakeGrader(raise_bad=True)  # raises BadImage for the batch: retried one by one
    first = service(gateway, store, grader).screen(rec.patient_ref)
    assert first.status == "partial"
    assert [(p.source_ref, p.stage, p.code) for p in first.problems] == [
        (rec.media_refs["left"], "grade", "bad-image")
    ]
    assert first.grading and first.grading.grading
    assert [e.laterality for e in first.grading.grading.eyes] == [Laterality.RIGHT]

    second = service(gateway, store, grader).screen(rec.patient_ref)
    assert second.grading and (second.grading.cache_hits, second.grading.graded) == (1, 1)


def test_no_usable_image_raises_imaging_errors_and_writes_nothing(
    kit: Any, gateway: Any, store: Store, grader: Any
) -> None:
    rec = kit.make_record(gateway)
    rec.add_media("right", b"garbage")
    rec.add_media("left", kit.png((0, 0, 0)))  # retrieved, but the grader cannot grade it
    with pytest.raises(ImagingErrors) as caught:
        service(gateway, store, grader).screen(rec.patient_ref)
    assert {(p.stage, p.source_ref) for p in caught.value.problems} == {
        ("retrieve", rec.media_refs["right"]),
        ("grade", rec.media_refs["left"]),
    }
    assert "Wanda" not in caught.value.message and "Testperson" not in caught.value.message
    assert count(gateway, "DiagnosticReport", rec.patient_ref) == 0
    assert service(gateway, store, grader).latest(rec.patient_ref) is None


def test_no_images_raises_or_drafts_advice_only(
    kit: Any, gateway: Any, store: Store, grader: Any
) -> None:
    rec = kit.make_record(gateway)
    with pytest.raises(NoImages, match="no fundus images"):
        service(gateway, store, grader).screen(rec.patient_ref)

    result = service(gateway, store, grader).screen(
        rec.patient_ref, ScreeningOptions(require_images=False)
    )
    assert result.status == "advice-only" and result.grading is None
    assert result.written and set(result.written.references) >= {"care-plan", "provenance"}
    assert "diagnostic-report" not in result.written.references
    assert count(gateway, "DiagnosticReport", rec.patient_ref) == 0
    # No grading and no eye exam on record: the advice asks for retinal screening.
    assert "MEAS-EYE-EXAM" in result.advice.rule_ids  # type: ignore[union-attr]
    assert grader.calls == []


def test_unknown_and_malformed_patients(kit: Any, gateway: Any, store: Store) -> None:
    svc = service(gateway, store, kit.FakeGrader())
    with pytest.raises(PatientNotFound, match="Patient/nope"):
        svc.screen("Patient/nope")
    for bad in ("", "Observation/1", "Patient/", "a b", "x" * 65, "Patient/1/_history/2"):
        with pytest.raises(InvalidRequest):
            svc.screen(bad)


def test_without_a_grader_nothing_is_downloaded(kit: Any, gateway: Any, store: Store) -> None:
    rec = kit.make_record(gateway, {"right": (120, 0, 0)})
    before = list(gateway.requests)
    with pytest.raises(GraderUnavailable):
        service(gateway, store, None).screen(rec.patient_ref)
    assert not any(r == "read Media" for r in gateway.requests[len(before) :])
    # ... but advice alone needs no grader
    result = service(gateway, store, None).screen(rec.patient_ref, ScreeningOptions(grade=False))
    assert result.status == "advice-only"


def test_no_write_leaves_the_server_untouched_but_records(
    kit: Any, gateway: Any, store: Store, grader: Any
) -> None:
    rec = kit.make_record(gateway, {"right": (120, 0, 0)})
    result = service(gateway, store, grader).screen(rec.patient_ref, ScreeningOptions(write=False))
    assert result.written is None and "transaction" not in gateway.requests
    assert result.stored.written == {} and result.stored.status == "complete"


def test_write_referral_and_chinese_advice(
    kit: Any, gateway: Any, store: Store, grader: Any
) -> None:
    rec = kit.make_record(gateway, {"left": (120, 0, 0)})
    result = service(gateway, store, grader).screen(
        rec.patient_ref, ScreeningOptions(write_referral=True, lang=Lang.ZH)
    )
    assert result.written is not None
    request = gateway.read("ServiceRequest", result.written.references["service-request"][15:])
    assert (request["status"], request["intent"], request["priority"]) == (
        "draft",
        "proposal",
        "routine",
    )
    assert (
        request["reasonReference"][0]["reference"] == result.written.references["diagnostic-report"]
    )
    plan = gateway.read("CarePlan", result.written.references["care-plan"].split("/")[1])
    assert plan["language"] == "zh" and plan["title"] == "糖尿病管理建议（AI草稿）"


def test_the_deployment_population_sets_the_bmi_cut_offs_when_the_record_is_silent(
    kit: Any, gateway: Any, store: Store
) -> None:
    rec = kit.make_record(gateway)
    gateway.create(kit.bmi(rec.patient_ref, 24.5))  # overweight by the Chinese cut-off (24) only
    options = ScreeningOptions(grade=False, write=False)
    general = service(gateway, store).screen(rec.patient_ref, options).advice
    chinese = service(gateway, store, default_population=Population.CHINESE).screen(
        rec.patient_ref, options
    )
    assert general is not None and "WT-LOSS-CHINESE" not in general.rule_ids
    assert chinese.advice is not None and "WT-LOSS-CHINESE" in chinese.advice.rule_ids


class _Echo:
    name = "echo-llm"

    def generate(self, messages: Any, max_new_tokens: int = 768) -> str:
        return "not json"


def test_llm_engine_needs_a_model_and_falls_back_to_the_rules_text(
    kit: Any, gateway: Any, store: Store, grader: Any
) -> None:
    rec = kit.make_record(gateway, {"right": (120, 0, 0)})
    options = ScreeningOptions(engine=Engine.LLM, write=False)
    with pytest.raises(AdviceUnavailable):
        service(gateway, store, grader).screen(rec.patient_ref, options)
    result = service(gateway, store, grader, llm=_Echo).screen(rec.patient_ref, options)
    assert result.advice is not None and result.advice.engine == Engine.LLM
    assert result.stored.advice_engine == "deepdr-advice-llm/echo-llm"


def test_a_refused_large_transaction_is_split(kit: Any, store: Store, grader: Any) -> None:
    class SmallTransactions(kit.ServerLikeGateway):  # type: ignore[misc,name-defined]
        """Refuses a transaction of more than 8 entries, as Medplum 4.5 does."""

        def transaction(self, bundle: JSON) -> TransactionResult:
            if len(bundle.get("entry") or []) > 8:
                raise FhirInvalid("FHIR transaction failed", 400, "too many entries")
            result: TransactionResult = super().transaction(bundle)
            return result

    gw = SmallTransactions()
    rec = kit.make_record(gw, {"right": (120, 0, 0), "left": (200, 0, 0)})
    result = service(gw, store, grader).screen(rec.patient_ref)
    assert result.written and result.written.transactions > 1
    again = service(gw, store, grader).screen(rec.patient_ref)
    assert again.written and again.written.created_count == 0


def test_a_refused_required_search_fails_an_optional_one_warns(
    kit: Any, store: Store, grader: Any
) -> None:
    class Refusing(kit.ServerLikeGateway):  # type: ignore[misc,name-defined]
        def __init__(self, refuse: str) -> None:
            super().__init__()
            self.refuse = refuse

        def search(
            self, resource_type: str, params: SearchParams = (), *, max_pages: int = 10
        ) -> SearchResult:
            if resource_type == self.refuse:
                raise FhirAuthError(f"FHIR search {resource_type} failed", 403, "scope")
            found: SearchResult = super().search(resource_type, params, max_pages=max_pages)
            return found

    gw = Refusing("Observation")
    rec = kit.make_record(gw, {"right": (120, 0, 0)})
    with pytest.raises(FhirAuthError):
        service(gw, store, grader).screen(rec.patient_ref)

    gw2 = Refusing("MedicationStatement")
    rec2 = kit.make_record(gw2, {"right": (120, 0, 0)})
    result = service(gw2, store, grader).screen(rec2.patient_ref)
    assert result.record.warnings == (
        "MedicationStatement search failed (FhirAuthError); none read",
    )


def test_a_progress_callback_that_raises_stops_the_screening(
    kit: Any, gateway: Any, store: Store, grader: Any
) -> None:
    """A job whose lease was lost raises LeaseLost from its progress callback: the run must
    stop there, before writing anything."""
    from plugin.jobs import LeaseLost

    rec = kit.make_record(gateway, {"right": (120, 0, 0)})

    def lost(stage: str, percent: int) -> None:
        if stage == "grade":
            raise LeaseLost("job-1")

    with pytest.raises(LeaseLost):
        service(gateway, store, grader).screen(rec.patient_ref, progress=lost)
    assert "transaction" not in gateway.requests
    assert service(gateway, store, grader).latest(rec.patient_ref) is None


def test_an_ungradable_eye_is_written_as_such_not_as_a_problem(
    kit: Any, gateway: Any, store: Store, grader: Any
) -> None:
    rec = kit.make_record(gateway, {"right": (5, 0, 0), "left": (120, 0, 0)})
    result = service(gateway, store, grader).screen(rec.patient_ref)
    assert result.status == "complete" and result.problems == ()
    eyes = {e["eye"]: e for e in result.stored.summary["eyes"]}
    assert eyes["right"]["gradable"] is False and eyes["left"]["gradable"] is True
    assert result.written is not None
    report = gateway.read("DiagnosticReport", result.written.references["diagnostic-report"][17:])
    codes = {c["code"] for cc in report["conclusionCode"] for c in cc["coding"]}
    assert "ungradable-eye" in codes
    assert "Right eye: ungradable" in report["conclusion"]
