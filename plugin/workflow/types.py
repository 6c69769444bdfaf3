"""What the screening workflow takes and returns: options, the patient's record, retrieved
images, grading, write-back and the whole screening's result. Frozen; no I/O here."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from fhir_mappers.outbound import ReferralForFhir
from models.advice import AdviceContext, AdviceDraft, Engine, Lang
from models.clinical_facts import ClinicalFacts
from models.grader.result import ImageGrading, PatientGrading
from plugin.imaging.results import RetrievedImage, SkippedSource
from plugin.store.screenings import ScreeningRecord, ScreeningStatus

JSON = dict[str, Any]
Stage = Literal["record", "images", "grade", "advise", "write", "store"]
ProgressCallback = Callable[[str, int], None]
"""progress(stage, percent): percent of the whole screening, 0-100, never decreasing."""

_ENCOUNTER_REF = re.compile(r"^Encounter/[A-Za-z0-9\-.]{1,64}$")


class ScreeningOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    lang: Lang = Lang.EN
    engine: Engine = Engine.RULES
    write: bool = True  # write the preliminary results back to the FHIR server
    # Also write the suggested referral as a ServiceRequest proposal. Off by default: the
    # CDS card and the app offer it; a clinician accepts it.
    write_referral: bool = False
    # No image in the record: raise NoImages (True) or draft advice only (False).
    require_images: bool = True
    grade: bool = True  # False: skip image retrieval and grading (advice only)
    encounter_ref: str | None = None
    advice_context: AdviceContext | None = None  # overrides what the record implies

    @field_validator("encounter_ref")
    @classmethod
    def _encounter(cls, v: str | None) -> str | None:
        if v is not None and not _ENCOUNTER_REF.match(v):
            raise ValueError("encounter_ref must look like Encounter/<id>")
        return v


@dataclass(frozen=True)
class PriorReport:
    """One of our own earlier DiagnosticReports on the FHIR server."""

    reference: str
    status: str | None
    effective: date | None
    issued: datetime | None
    conclusion_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PatientRecord:
    """What the workflow read of the patient: the resources, the facts mapped from them,
    our own prior reports, and warnings about what could not be read completely."""

    patient_ref: str
    patient: JSON
    resources: tuple[JSON, ...]
    facts: ClinicalFacts
    prior_reports: tuple[PriorReport, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def last_report(self) -> PriorReport | None:
        dated = [r for r in self.prior_reports if r.effective is not None]
        return max(dated, key=lambda r: r.effective or date.min) if dated else None


class ImageProblem(BaseModel):
    """One image that could not be used, and why (safe to show: references and codes)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    image_id: str
    source_ref: str
    stage: Literal["retrieve", "grade"]
    code: str
    reason: str


@dataclass(frozen=True)
class RetrievedImages:
    images: tuple[RetrievedImage, ...]
    problems: tuple[ImageProblem, ...] = ()
    skipped: tuple[SkippedSource, ...] = ()

    @property
    def hashes(self) -> tuple[str, ...]:
        return tuple(sorted({img.sha256 for img in self.images}))


@dataclass(frozen=True)
class GradingOutcome:
    """The patient-level grading (None when no image could be graded), the successful
    per-image results, problems, and how many results came from the cache."""

    grading: PatientGrading | None
    images: tuple[ImageGrading, ...]
    problems: tuple[ImageProblem, ...] = ()
    cache_hits: int = 0
    graded: int = 0


@dataclass(frozen=True)
class WriteBackResult:
    """Per entry name ("diagnostic-report", "observation/right/dr-severity", ...): the
    server reference, and whether this run created it (False: found from an earlier run)."""

    references: dict[str, str] = field(default_factory=dict)
    created: dict[str, bool] = field(default_factory=dict)
    transactions: int = 0

    @property
    def created_count(self) -> int:
        return sum(self.created.values())


@dataclass(frozen=True)
class ScreeningResult:
    screening_id: str
    screening_key: str
    status: ScreeningStatus
    record: PatientRecord
    images: RetrievedImages
    grading: GradingOutcome | None
    advice: AdviceDraft | None
    written: WriteBackResult | None
    referral: ReferralForFhir | None  # suggested (written only with write_referral)
    problems: tuple[ImageProblem, ...]
    timings_ms: dict[str, float]
    stored: ScreeningRecord

    @property
    def patient_ref(self) -> str:
        return self.record.patient_ref
