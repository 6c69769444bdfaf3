"""CdsGrading over the in-memory FHIR gateway, a real SQLite store and the tiny ONNX grader:
fetch once then index, cache hits, the budget (grade now or in the background), failures
that are remembered and failures that are retried, no grader, order-hook mode."""

from __future__ import annotations

import base64
import threading
import time
from datetime import date
from typing import Any

import pytest

from fhir_mappers.inbound import clinical_facts_from_fhir
from plugin.cds.background import BackgroundGrading, LocalGrading
from plugin.cds.budget import CostEstimator, Deadline
from plugin.cds.fhir_access import HookFhirAccess
from plugin.cds.grading import CdsGrading, HookCall
from plugin.cds.sources import SourceUnit, current_units
from plugin.fhir.gateway import FhirGateway
from plugin.fhir.memory import InMemoryFhirGateway
from plugin.store import Store
from plugin.store.image_sources import ImageSourceIndex
from plugin.workflow.errors import GraderUnavailable
from plugin.workflow.grader import Grader

TODAY = date(2026, 3, 2)
TOKEN = "hook-token-5b1e"


class MemoryAccess(HookFhirAccess):
    """HookFhirAccess whose gateways are one in-memory server; records the tokens used."""

    def __init__(self, gateway: InMemoryFhirGateway) -> None:
        super().__init__(None)
        self.memory = gateway
        self.tokens: list[str | None] = []

    def gateway(self, fhir_server: str, access_token: str | None, actor: str) -> FhirGateway:
        self.tokens.append(access_token)
        return self.memory


class Setup:
    def __init__(self, kit: Any, store: Store, grader: Grader | None = None) -> None:
        self.kit = kit
        self.fhir = InMemoryFhirGateway("http://fhir.test/R4")
        self.access = MemoryAccess(self.fhir)
        self.local = LocalGrading()
        self.grader = grader or kit.TinyGrader()
        self.index = ImageSourceIndex(store.db, store.clock)
        self.grading = CdsGrading(
            index=self.index,
            cache=store.grading_cache,
            grader=lambda: self.grader,
            access=self.access,
            background=BackgroundGrading(None, self.local),
            estimator=CostEstimator(grade_ms_per_image=5.0, fetch_ms_per_source=1.0),
        )
        self.patient = self.fhir.create({"resourceType": "Patient", "gender": "male"}).reference

    def binary_media(self, eye: str, red: int, seed: int = 0) -> dict[str, Any]:
        data = self.kit.photo(red, seed=seed)
        binary = self.fhir.create(
            {
                "resourceType": "Binary",
                "contentType": "image/png",
                "data": base64.b64encode(data).decode(),
            }
        )
        resource = self.kit.media(self.patient, eye, data)
        resource["content"] = {"contentType": "image/png", "url": binary.reference}
        return self.fhir.create(resource).resource

    def units(self, *resources: dict[str, Any]) -> list[SourceUnit]:
        patient = self.fhir.read("Patient", self.patient.split("/")[1])
        facts = clinical_facts_from_fhir([patient, *resources], as_of=TODAY)
        return current_units(self.fhir.base_url, facts.images, list(resources), TODAY)

    def call(self, budget_ms: int = 60_000, **kw: Any) -> HookCall:
        return HookCall(
            fhir_server=self.fhir.base_url,
            access_token=TOKEN,
            actor="Practitioner/dr1",
            patient_ref=self.patient,
            deadline=Deadline.after(time.monotonic(), budget_ms),
            **kw,
        )

    def binary_reads(self) -> int:
        return self.fhir.requests.count("read Binary")


@pytest.fixture
def setup(kit: Any, store: Store) -> Setup:
    return Setup(kit, store)


def test_cold_images_are_fetched_indexed_and_graded_then_served_from_cache(
    setup: Setup,
) -> None:
    units = setup.units(setup.binary_media("right", 160), setup.binary_media("left", 20))

    first = setup.grading.assess(units, setup.call())

    assert first.grading is not None and first.pending is None and first.waiting == 0
    eyes = {e.laterality.value: e.decisive for e in first.grading.eyes}
    assert eyes["right"] is not None and eyes["right"].dr_grade is not None
    assert eyes["right"].dr_grade.grade == 3 and eyes["right"].referable.positive  # type: ignore[union-attr]
    assert eyes["left"] is not None and eyes["left"].dr_grade.grade == 0  # type: ignore[union-attr]
    assert first.stats == {"sources": 2, "fetched": 2, "cache_hits": 0, "graded": 2}
    assert len(first.image_hashes) == 2
    assert first.acquired == date.fromisoformat(setup.kit.recent())
    assert setup.binary_reads() == 2 and setup.access.tokens == [TOKEN]
    assert set(setup.index.get_many(u.key for u in units)) == {u.key for u in units}

    again = setup.grading.assess(units, setup.call())

    assert again.grading == first.grading
    assert again.stats == {"sources": 2, "fetched": 0, "cache_hits": 2, "graded": 0}
    assert setup.binary_reads() == 2  # known identity: nothing fetched
    assert setup.grader.graded_count == 2  # type: ignore[attr-defined]


def test_over_budget_grading_goes_to_the_background_and_lands_in_the_cache(
    setup: Setup,
) -> None:
    units = setup.units(setup.binary_media("right", 110))

    first = setup.grading.assess(units, setup.call(budget_ms=0))

    assert first.grading is None and first.waiting == 1
    assert first.pending is not None and first.pending.kind == "local"
    assert first.pending.status in ("queued", "running")
    assert len(first.image_hashes) == 1  # fetched for identity, not graded
    setup.local.wait_idle()

    later = setup.grading.assess(units, setup.call(budget_ms=0))

    assert later.pending is None and later.waiting == 0 and later.grading is not None
    assert later.stats["cache_hits"] == 1 and setup.grader.graded_count == 1  # type: ignore[attr-defined]


def test_the_same_images_queued_twice_are_one_background_task(setup: Setup) -> None:
    units = setup.units(setup.binary_media("right", 110))
    gate = threading.Event()
    setup.local.submit("blocker", gate.wait)  # keeps the single grading thread busy
    first = setup.grading.assess(units, setup.call(budget_ms=0))
    second = setup.grading.assess(units, setup.call(budget_ms=0))
    gate.set()
    setup.local.wait_idle()
    assert first.pending is not None and second.pending is not None
    assert (first.pending.status, second.pending.status) == ("queued", "running")
    assert setup.grader.graded_count == 1  # type: ignore[attr-defined]


def test_a_corrupt_image_is_remembered_a_missing_binary_is_retried(setup: Setup, kit: Any) -> None:
    corrupt = kit.media(setup.patient, "right", b"\x89PNG\r\n\x1a\n broken")
    corrupt = setup.fhir.create(corrupt).resource
    missing = kit.media(setup.patient, "left", b"")
    missing["content"] = {"contentType": "image/png", "url": "Binary/does-not-exist"}
    missing = setup.fhir.create(missing).resource
    units = setup.units(corrupt, missing)

    first = setup.grading.assess(units, setup.call())
    second = setup.grading.assess(units, setup.call())

    for found in (first, second):
        assert found.grading is None
        assert sorted((f.source_ref, f.code) for f in found.failures) == sorted(
            [(f"Media/{corrupt['id']}", "corrupt"), (f"Media/{missing['id']}", "not-found")]
        )
    by_ref = {u.source_ref: u.key for u in units}
    remembered = setup.index.get(by_ref[f"Media/{corrupt['id']}"])
    assert remembered is not None and [f.code for f in remembered.failures] == ["corrupt"]
    assert setup.index.get(by_ref[f"Media/{missing['id']}"]) is None
    assert setup.binary_reads() == 2  # the missing Binary was tried on each call


def test_an_edited_media_is_a_new_identity(setup: Setup) -> None:
    resource = setup.binary_media("right", 20)
    (unit,) = setup.units(resource)
    setup.grading.assess([unit], setup.call())
    resource["meta"] = {"versionId": "2"}
    (edited,) = setup.units(resource)
    assert edited.key != unit.key
    setup.grading.assess([edited], setup.call())
    assert setup.binary_reads() == 2


def test_order_hook_mode_neither_fetches_nor_grades(setup: Setup) -> None:
    units = setup.units(setup.binary_media("right", 160))
    found = setup.grading.assess(units, setup.call(fetch=False, grade=False))
    assert found.grading is None and found.pending is None and found.image_hashes == ()
    assert setup.binary_reads() == 0 and setup.grader.graded_count == 0  # type: ignore[attr-defined]


def test_no_grader_is_reported_not_raised(kit: Any, store: Store) -> None:
    setup = Setup(kit, store)

    def unavailable() -> Grader:
        raise GraderUnavailable("no grader bundle")

    setup.grading._grader = unavailable  # noqa: SLF001 (swap the provider for this test)
    units = setup.units(setup.binary_media("right", 160))
    found = setup.grading.assess(units, setup.call())
    assert found.grader_unavailable and found.grading is None
    assert setup.binary_reads() == 0


def test_no_images_means_nothing_to_do(setup: Setup) -> None:
    found = setup.grading.assess([], setup.call())
    assert found.grading is None and found.stats == {}


def test_without_fhir_access_only_inline_photos_are_read(setup: Setup, kit: Any) -> None:
    inline = setup.fhir.create(kit.media(setup.patient, "right", kit.photo(160))).resource
    behind_binary = setup.binary_media("left", 20)
    units = setup.units(inline, behind_binary)
    call = HookCall(
        fhir_server=None,
        access_token=None,
        actor="cds-client",
        patient_ref=setup.patient,
        deadline=Deadline.after(time.monotonic(), 60_000),
    )

    found = setup.grading.assess(units, call)

    assert found.grading is not None
    assert [e.laterality.value for e in found.grading.eyes] == ["right"]
    assert [(f.source_ref, f.code) for f in found.failures] == [
        (f"Media/{behind_binary['id']}", "no-access")
    ]
    assert setup.binary_reads() == 0


def test_a_model_that_fails_as_a_whole_is_reported_not_raised(kit: Any, store: Store) -> None:
    class Broken:
        model = kit.TinyGrader().model

        def grade(self, images: Any) -> Any:
            raise GraderUnavailable("onnxruntime session failed")

    setup = Setup(kit, store, grader=Broken())  # type: ignore[arg-type]
    found = setup.grading.assess(setup.units(setup.binary_media("right", 160)), setup.call())
    assert found.grader_unavailable and found.grading is None and found.waiting == 1
