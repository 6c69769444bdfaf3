"""The screening workflow: read the record -> retrieve the images -> grade (with the cache)
-> draft advice -> write back preliminary results -> record the screening.

    service = ScreeningService(gateway, store=store, grader=grader)
    result = service.screen("Patient/123", ScreeningOptions(lang=Lang.ZH), progress=cb)

A plain class (no Flask): the CLI, the job handler, the CDS service and the app all call
the same steps, separately or through `screen`. Errors are typed (plugin.workflow.errors)
with messages safe to show; FHIR errors pass through as plugin.fhir.FhirError. A screening
where some images fail is a success that lists them; one where all fail is ImagingErrors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from fhir_mappers.outbound import ReferralForFhir
from fhir_mappers.outbound.identifiers import digest, screening_key
from models.advice import AdviceContext, AdviceDraft, Engine, KnowledgeBase, Lang, advise
from models.advice.llm import LlmUnavailable, TextGenerator
from models.clinical_facts import ClinicalFacts, Population
from models.grader.result import PatientGrading
from plugin.fhir.gateway import FhirGateway
from plugin.imaging.config import ImagingSettings
from plugin.imaging.fetcher import ImageFetcher
from plugin.imaging.http import TokenProvider
from plugin.imaging.results import RetrievedImage
from plugin.store.clock import Clock, utc_now
from plugin.store.screenings import (
    NewScreening,
    ScreeningRecord,
    ScreeningRepository,
    ScreeningStatus,
)
from plugin.store.store import Store
from plugin.workflow.errors import (
    AdviceUnavailable,
    GraderUnavailable,
    ImagingErrors,
    NoImages,
)
from plugin.workflow.grader import Grader
from plugin.workflow.grading import GradingObserver, grade_images
from plugin.workflow.record import parse_patient_ref, read_record
from plugin.workflow.summary import screening_summary
from plugin.workflow.types import (
    GradingOutcome,
    ImageProblem,
    PatientRecord,
    ProgressCallback,
    RetrievedImages,
    ScreeningOptions,
    ScreeningResult,
    WriteBackResult,
)
from plugin.workflow.writeback import (
    advice_engine,
    advice_for_fhir,
    screening_context,
    suggested_referral,
    write_back,
)

log = logging.getLogger(__name__)

# Percent of the whole screening reached when each stage ends (for progress bars).
STAGE_END_PERCENT: dict[str, int] = {
    "record": 15,
    "images": 45,
    "grade": 70,
    "advise": 80,
    "write": 95,
    "store": 100,
}
GeneratorFactory = Callable[[], TextGenerator]


class ScreeningService:
    def __init__(
        self,
        gateway: FhirGateway,
        *,
        store: Store,
        grader: Grader | None = None,
        imaging: ImagingSettings | None = None,
        fhir_token: TokenProvider | None = None,
        llm: GeneratorFactory | None = None,
        kb: KnowledgeBase | None = None,
        clock: Clock = utc_now,
        write_max_entries: int | None = None,
        observe_grading: GradingObserver | None = None,
        default_population: Population | None = None,
    ) -> None:
        """`gateway`: the FHIR server to read and write (its base URL names the patient's
        server in the screening records). `fhir_token`: the same server's token, sent to
        image URLs on its origin. `llm`: builds the language model for engine llm, once,
        when first needed. `write_max_entries`: split write-back transactions (None: one
        transaction, split only if the server refuses it). `observe_grading`: receives the
        seconds per graded image (e.g. Metrics.observe_grading). `default_population`: the
        deployment's BMI population (settings.advice.population) for records that do not
        say; the record and the advice context come first."""
        self.gateway = gateway
        self.store = store
        self.grader = grader
        self.screenings = ScreeningRepository(store.db, store.clock)
        self._imaging = imaging or ImagingSettings()
        self._fhir_token = fhir_token
        self._llm_factory = llm
        self._llm: TextGenerator | None = None
        self._kb = kb
        self._clock = clock
        self._write_max_entries = write_max_entries
        self._observe_grading = observe_grading
        self._default_population = default_population

    # --- steps -----------------------------------------------------------------------------

    def read_record(self, patient_ref: str) -> PatientRecord:
        return read_record(self.gateway, patient_ref, self._clock().date())

    def retrieve_images(self, facts: ClinicalFacts) -> RetrievedImages:
        """The pixels behind facts.images; each failure is a per-image problem."""
        if not facts.images:
            return RetrievedImages(())
        with ImageFetcher(
            self.gateway,
            self._imaging,
            fhir_base_url=self.gateway.base_url,
            fhir_token=self._fhir_token,
        ) as fetcher:
            fetched = fetcher.fetch_refs(list(facts.images))
        problems = tuple(
            ImageProblem(
                image_id=e.image_id,
                source_ref=e.source_ref,
                stage="retrieve",
                code=e.code.value,
                reason=e.reason,
            )
            for e in fetched.errors
        )
        return RetrievedImages(tuple(fetched.images), problems, tuple(fetched.skipped))

    def grade(self, images: RetrievedImages | Sequence[RetrievedImage]) -> GradingOutcome:
        """Cached results for known bytes + model; the rest graded in one batch and cached."""
        grader = self._require_grader()
        found = images.images if isinstance(images, RetrievedImages) else tuple(images)
        return grade_images(grader, found, self.store.grading_cache, self._observe_grading)

    def advise(
        self,
        facts: ClinicalFacts,
        grading: PatientGrading | None,
        lang: Lang = Lang.EN,
        engine: Engine = Engine.RULES,
        context: AdviceContext | None = None,
    ) -> AdviceDraft:
        generator = self._generator() if engine == Engine.LLM else None
        return advise(
            facts,
            grading,
            context,
            lang=lang,
            engine=engine,
            generator=generator,
            kb=self._kb,
            default_population=self._default_population,
        )

    def write_back(
        self,
        facts: ClinicalFacts,
        images: RetrievedImages,
        grading: PatientGrading | None,
        advice: AdviceDraft | None,
        *,
        referral: ReferralForFhir | None = None,
        encounter_ref: str | None = None,
    ) -> WriteBackResult:
        """Preliminary DiagnosticReport + Observations, draft CarePlan (+ the referral when
        given) and Provenance, as conditional creates: idempotent."""
        context = screening_context(facts, images.images, grading, self._clock(), encounter_ref)
        return write_back(
            self.gateway,
            context,
            grading,
            advice_for_fhir(advice) if advice is not None else None,
            referral,
            max_entries=self._write_max_entries,
        )

    def latest(self, patient_ref: str) -> ScreeningRecord | None:
        """The patient's most recent screening on this FHIR server, from the store."""
        return self.screenings.latest(self.gateway.base_url, parse_patient_ref(patient_ref))

    # --- the whole pipeline ------------------------------------------------------------------

    def screen(
        self,
        patient_ref: str,
        options: ScreeningOptions | None = None,
        progress: ProgressCallback | None = None,
    ) -> ScreeningResult:
        options = options or ScreeningOptions()
        timings: dict[str, float] = {}
        report = _Reporter(progress)

        with _timed(timings, "record"):
            record = self.read_record(patient_ref)
        report("record")
        images, grading = self._images_and_grading(record, options, timings, report)
        problems = images.problems + (grading.problems if grading else ())
        patient_grading = grading.grading if grading else None

        with _timed(timings, "advise"):
            context = options.advice_context or advice_context(record)
            draft = self.advise(
                record.facts, patient_grading, options.lang, options.engine, context
            )
        report("advise")

        referral = suggested_referral(patient_grading)
        written: WriteBackResult | None = None
        if options.write:
            with _timed(timings, "write"):
                written = self.write_back(
                    record.facts,
                    images,
                    patient_grading,
                    draft,
                    referral=referral if options.write_referral else None,
                    encounter_ref=options.encounter_ref,
                )
        report("write")

        status: ScreeningStatus = (
            "advice-only" if patient_grading is None else "partial" if problems else "complete"
        )
        key = _screening_key(record.patient_ref, patient_grading, draft)
        with _timed(timings, "store"):
            stored = self.screenings.save(
                NewScreening(
                    fhir_base=self.gateway.base_url,
                    patient_ref=record.patient_ref,
                    screening_key=key,
                    status=status,
                    image_hashes=images.hashes,
                    grader_model=patient_grading.model.name if patient_grading else None,
                    grader_version=patient_grading.model.version if patient_grading else None,
                    advice_engine=advice_engine(draft).name,
                    advice_version=draft.knowledge_base_version,
                    written=dict(written.references) if written else {},
                    problems=[p.model_dump() for p in problems],
                    summary=screening_summary(images, grading, draft, problems),
                    grading=patient_grading.model_dump(mode="json") if patient_grading else None,
                    advice=draft.model_dump(mode="json"),
                    timings_ms=dict(timings),
                )
            )
        report("store")
        return ScreeningResult(
            screening_id=stored.id,
            screening_key=key,
            status=status,
            record=record,
            images=images,
            grading=grading,
            advice=draft,
            written=written,
            referral=referral,
            problems=problems,
            timings_ms=timings,
            stored=stored,
        )

    def _images_and_grading(
        self,
        record: PatientRecord,
        options: ScreeningOptions,
        timings: dict[str, float],
        report: _Reporter,
    ) -> tuple[RetrievedImages, GradingOutcome | None]:
        if not options.grade:
            return RetrievedImages(()), None
        if not record.facts.images:
            if options.require_images:
                raise NoImages(f"{record.patient_ref} has no fundus images in the record")
            return RetrievedImages(()), None
        self._require_grader()  # before any download: fail fast without a model
        with _timed(timings, "images"):
            images = self.retrieve_images(record.facts)
        report("images")
        if not images.images:
            if options.require_images:
                raise ImagingErrors(
                    f"none of the {len(record.facts.images)} fundus image references of "
                    f"{record.patient_ref} could be retrieved",
                    images.problems,
                )
            return images, None
        with _timed(timings, "grade"):
            grading = self.grade(images)
        report("grade")
        if grading.grading is None and options.require_images:
            raise ImagingErrors(
                f"none of the {len(images.images)} retrieved images could be graded",
                images.problems + grading.problems,
            )
        return images, grading

    # --- helpers -------------------------------------------------------------------------

    def _require_grader(self) -> Grader:
        if self.grader is None:
            raise GraderUnavailable("no grader is configured")
        return self.grader

    def _generator(self) -> TextGenerator:
        if self._llm is None:
            if self._llm_factory is None:
                raise AdviceUnavailable("engine llm needs a language model; none is configured")
            try:
                self._llm = self._llm_factory()
            except LlmUnavailable as exc:
                raise AdviceUnavailable(f"language model unavailable: {exc}") from None
        return self._llm


def advice_context(record: PatientRecord) -> AdviceContext:
    """What the record says beyond ClinicalFacts: the last eye examination (our latest
    report, or the newest fundus image on record)."""
    dates = [r.effective for r in record.prior_reports if r.effective is not None]
    dates += [img.date for img in record.facts.images if img.date is not None]
    return AdviceContext(last_eye_exam=max(dates) if dates else None)


def _screening_key(patient_ref: str, grading: PatientGrading | None, draft: AdviceDraft) -> str:
    """Graded: the DiagnosticReport's own key (patient + image hashes + model), linking the
    record to what was written. Advice only: the patient + the draft's rules and text."""
    if grading is not None:
        return screening_key(patient_ref, grading)
    return digest(
        {
            "patient": patient_ref,
            "advice": [draft.engine.value, draft.knowledge_base_version, draft.lang.value],
            "items": [[i.rule_id, i.text] for i in draft.items],
        }
    )


class _Reporter:
    """Calls progress(stage, percent) at the end of each stage. What the callback raises
    propagates: a job whose lease was lost (LeaseLost) must stop here."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback

    def __call__(self, stage: str) -> None:
        if self._callback is not None:
            self._callback(stage, STAGE_END_PERCENT[stage])


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = round((time.perf_counter() - start) * 1000, 1)
