"""A hook call's images -> the grading we can show now, within the call's budget.

    state = grading.assess(units, call)

1. Identity: each source unit's key is looked up in the image source index (content hashes
   of its images, from an earlier fetch). Unknown units are fetched once with the hook's
   token (identity needs the bytes), then indexed; images that can never be read as they
   are (corrupt, not an image) are indexed as failures so they are not fetched again.
2. Results: every known hash is looked up in the grading cache (hash + model version).
3. Misses: graded now if the learned cost fits what is left of the budget (measured from
   the start of the HTTP request), else handed to background grading; the answer then says
   "grading in progress" and the next call finds the results in the cache.
Order hooks call with `fetch=False, grade=False`: the index and the cache only.
A language model never runs here; only the image grader does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from models.grader.result import ImageGrading, Laterality, ModelInfo, PatientGrading
from plugin.cds.background import BackgroundGrading, BackgroundRequest, Pending, local_key
from plugin.cds.budget import CostEstimator, Deadline
from plugin.cds.fhir_access import HookFhirAccess
from plugin.cds.sources import SourceUnit
from plugin.imaging.config import ImagingSettings
from plugin.imaging.fetcher import ImageFetcher
from plugin.imaging.results import FetchErrorCode, ImageFetchResult, RetrievedImage
from plugin.store.grading_cache import GradingCache
from plugin.store.image_sources import (
    ImageSourceIndex,
    IndexedFailure,
    IndexedImage,
    IndexedSource,
)
from plugin.workflow.errors import GraderUnavailable
from plugin.workflow.grader import Grader
from plugin.workflow.grading import grade_images

log = logging.getLogger(__name__)

# A placeholder base for inline-only fetches: no request is ever sent to it.
NO_SERVER = "http://fhir-server.invalid"

# Failures that stay failures until the source changes (its key changes with it).
PERMANENT_FETCH_CODES = frozenset(
    {
        FetchErrorCode.INVALID_RESOURCE,
        FetchErrorCode.NOT_AN_IMAGE,
        FetchErrorCode.CORRUPT,
        FetchErrorCode.UNSUPPORTED,
        FetchErrorCode.INTEGRITY,
        FetchErrorCode.TOO_LARGE,
        FetchErrorCode.FORBIDDEN_SOURCE,
    }
)


@dataclass(frozen=True)
class HookCall:
    """What grading needs to know about one hook call. The token is the hook's own."""

    fhir_server: str | None  # None: the server may not be contacted (inline images only)
    access_token: str | None
    actor: str
    patient_ref: str
    deadline: Deadline
    fetch: bool = True
    grade: bool = True


@dataclass(frozen=True)
class ImageFailure:
    image_id: str
    source_ref: str
    code: str
    reason: str


@dataclass(frozen=True)
class ImageState:
    """What can be said about the current images now."""

    grading: PatientGrading | None = None
    image_hashes: tuple[str, ...] = ()  # of every current image whose bytes we know
    failures: tuple[ImageFailure, ...] = ()
    pending: Pending | None = None
    waiting: int = 0  # images without a result yet
    acquired: date | None = None  # newest image date
    grader_unavailable: bool = False
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def model(self) -> ModelInfo | None:
        return self.grading.model if self.grading else None


@dataclass
class _Image:
    unit: SourceUnit
    image_id: str
    sha256: str
    laterality: str
    acquired: date | None
    pixels: RetrievedImage | None = None


class CdsGrading:
    def __init__(
        self,
        *,
        index: ImageSourceIndex,
        cache: GradingCache,
        grader: Callable[[], Grader],
        access: HookFhirAccess,
        background: BackgroundGrading,
        imaging: ImagingSettings | None = None,
        estimator: CostEstimator | None = None,
    ) -> None:
        self._index = index
        self._cache = cache
        self._grader = grader
        self._access = access
        self._background = background
        self._imaging = imaging or ImagingSettings()
        self.estimator = estimator or CostEstimator()

    def assess(self, units: Sequence[SourceUnit], call: HookCall) -> ImageState:
        if not units:
            return ImageState()
        try:
            grader = self._grader()
            model = grader.model
        except GraderUnavailable as exc:
            log.warning("CDS grading unavailable: %s", exc.message)
            return ImageState(grader_unavailable=True)
        stats = {"sources": len(units), "fetched": 0, "cache_hits": 0, "graded": 0}
        failures: list[ImageFailure] = []
        indexed = self._index.get_many(u.key for u in units)
        unknown = [u for u in units if u.key not in indexed and _reachable(u, call)]
        if call.fetch:
            failures += [
                _failure(u, u.source_ref, "no-access", "no fhirAuthorization to read it")
                for u in units
                if u.key not in indexed and not _reachable(u, call)
            ]
        fetched: dict[str, ImageFetchResult] = {}
        if unknown and call.fetch:
            fetched = self._fetch(unknown, call)
            stats["fetched"] = len(unknown)
            self._remember(unknown, fetched)
        images: list[_Image] = []
        for unit in units:
            if unit.key in indexed:
                known = indexed[unit.key]
                images += [_from_index(unit, i) for i in known.images]
                failures += [_failure(unit, f.image_id, f.code, f.reason) for f in known.failures]
            elif unit.key in fetched:
                result = fetched[unit.key]
                images += [_from_fetch(unit, r) for r in result.images]
                failures += [
                    _failure(unit, e.image_id, e.code.value, e.reason) for e in result.errors
                ]
        results: dict[str, ImageGrading] = {}
        misses: list[_Image] = []
        for img in images:
            hit = self._cache.get(img.sha256, model, img.image_id)
            if hit is not None and hit.error is None:
                results[img.image_id] = _labelled(hit, img)
            else:
                misses.append(img)
        stats["cache_hits"] = len(results)
        pending: Pending | None = None
        grader_failed = False
        if misses and call.grade:
            if self._fits(misses, call.deadline):
                try:
                    graded, problems = self._grade_now(grader, misses, call)
                except GraderUnavailable as exc:  # the model failed as a whole
                    log.warning("CDS grading failed: %s", exc.message)
                    graded, problems = {}, []
                    grader_failed = True
                results.update(graded)
                failures += problems
                stats["graded"] = len(graded) + len(problems)
                misses = [m for m in misses if m.image_id not in graded]
                misses = [m for m in misses if all(p.image_id != m.image_id for p in problems)]
            else:
                pending = self._defer(grader, misses, images, call, model)
        ordered = [results[i.image_id] for i in images if i.image_id in results]
        dates = [i.acquired for i in images if i.acquired is not None]
        return ImageState(
            grading=PatientGrading.from_images(ordered, model) if ordered else None,
            image_hashes=tuple(sorted({i.sha256 for i in images})),
            failures=tuple(failures),
            pending=pending,
            waiting=len(misses),
            acquired=max(dates) if dates else None,
            grader_unavailable=grader_failed,
            stats=stats,
        )

    # --- steps ----------------------------------------------------------------------------

    def _fetch(self, units: Sequence[SourceUnit], call: HookCall) -> dict[str, ImageFetchResult]:
        token = call.access_token
        server = call.fhir_server or NO_SERVER
        gateway = self._access.gateway(server, token, call.actor)
        started = time.monotonic()
        out: dict[str, ImageFetchResult] = {}
        with ImageFetcher(
            gateway,
            self._imaging,
            fhir_base_url=server,
            fhir_token=lambda: token,
            transport=self._access.transport,
        ) as fetcher:
            for unit in units:
                out[unit.key] = fetcher.fetch_resource(
                    unit.resource,
                    only_series=unit.only_series,
                    only_instances=unit.only_instances,
                    laterality_hint=unit.laterality_hint,
                )
        self.estimator.observe_fetch(len(units), (time.monotonic() - started) * 1000)
        return out

    def _remember(self, units: Sequence[SourceUnit], fetched: dict[str, ImageFetchResult]) -> None:
        """Index each fetched unit, unless an error may pass (then it is fetched again)."""
        for unit in units:
            result = fetched.get(unit.key)
            if result is None or any(e.code not in PERMANENT_FETCH_CODES for e in result.errors):
                continue
            self._index.put(
                IndexedSource(
                    source_key=unit.key,
                    source_ref=unit.source_ref,
                    images=tuple(
                        IndexedImage(r.image_id, r.sha256, r.laterality.value, r.acquired)
                        for r in result.images
                    ),
                    failures=tuple(
                        IndexedFailure(e.image_id, e.code.value, e.reason) for e in result.errors
                    ),
                )
            )

    def _fits(self, misses: Sequence[_Image], deadline: Deadline) -> bool:
        refetch = {m.unit.key for m in misses if m.pixels is None}
        cost = self.estimator.grading_ms(len(misses)) + self.estimator.fetch_ms(len(refetch))
        return deadline.fits(cost)

    def _grade_now(
        self, grader: Grader, misses: Sequence[_Image], call: HookCall
    ) -> tuple[dict[str, ImageGrading], list[ImageFailure]]:
        pixels, failures = self._pixels(misses, call)
        started = time.monotonic()
        outcome = grade_images(grader, pixels, self._cache)
        self.estimator.observe_grading(len(pixels), (time.monotonic() - started) * 1000)
        by_id = {m.image_id: m for m in misses}
        graded = {g.image_id: _labelled(g, by_id[g.image_id]) for g in outcome.images}
        for p in outcome.problems:
            failures.append(ImageFailure(p.image_id, p.source_ref, p.code, p.reason))
        return graded, failures

    def _pixels(
        self, misses: Sequence[_Image], call: HookCall
    ) -> tuple[list[RetrievedImage], list[ImageFailure]]:
        """The pixels of the misses: in hand when just fetched, else fetched again."""
        have = [m.pixels for m in misses if m.pixels is not None]
        again = {m.unit.key: m.unit for m in misses if m.pixels is None}
        failures: list[ImageFailure] = []
        again = {k: u for k, u in again.items() if _reachable(u, call)}
        if again:
            wanted = {m.image_id for m in misses}
            for key, result in self._fetch(list(again.values()), call).items():
                have += [r for r in result.images if r.image_id in wanted]
                unit = again[key]
                failures += [
                    _failure(unit, e.image_id, e.code.value, e.reason) for e in result.errors
                ]
        return have, failures

    def _defer(
        self,
        grader: Grader,
        misses: Sequence[_Image],
        images: Sequence[_Image],
        call: HookCall,
        model: ModelInfo,
    ) -> Pending | None:
        fhir_server = call.fhir_server or NO_SERVER

        def work() -> None:
            pixels, _ = self._pixels(misses, call)
            started = time.monotonic()
            grade_images(grader, pixels, self._cache)
            self.estimator.observe_grading(len(pixels), (time.monotonic() - started) * 1000)

        request = BackgroundRequest(
            fhir_base=fhir_server,
            patient_ref=call.patient_ref,
            model=model,
            image_hashes=tuple(sorted({i.sha256 for i in images})),
            local_work=work,
        )
        keys = sorted({m.sha256 for m in misses})
        return self._background.submit(
            request, local_key(fhir_server, call.patient_ref, model, keys)
        )


def _reachable(unit: SourceUnit, call: HookCall) -> bool:
    """Whether the unit's bytes can be read in this call: inline ones always; the others
    need the (allowed) FHIR server and the hook's token."""
    return unit.inline or (call.fhir_server is not None and call.access_token is not None)


def _from_index(unit: SourceUnit, img: IndexedImage) -> _Image:
    return _Image(unit, img.image_id, img.sha256, img.laterality, img.acquired or unit.acquired)


def _from_fetch(unit: SourceUnit, img: RetrievedImage) -> _Image:
    return _Image(
        unit, img.image_id, img.sha256, img.laterality.value, img.acquired or unit.acquired, img
    )


def _failure(unit: SourceUnit, image_id: str, code: str, reason: str) -> ImageFailure:
    return ImageFailure(image_id=image_id, source_ref=unit.source_ref, code=code, reason=reason)


def _labelled(grading: ImageGrading, img: _Image) -> ImageGrading:
    side = img.laterality if img.laterality in ("left", "right") else "unknown"
    return grading.model_copy(
        update={"image_id": img.image_id, "laterality": Laterality(side), "sha256": img.sha256}
    )
