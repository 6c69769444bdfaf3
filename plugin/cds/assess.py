"""What a hook call found, as one value the card builders read (pure; no I/O).

Screening due: a patient with current diabetes and no evidence of a retinal exam in the
last 12 months (ADA Standards of Care: at least annual screening; every 1-2 years only
after normal exams, which a primary-care reminder does not try to judge). Evidence: any
fundus photograph on record (ImagingStudy/Media/DocumentReference dates), our own
DiagnosticReports, a completed retinal-exam Procedure (CMS131 codes, CPT 92227-92250) or a
DR severity / macular edema Observation (LOINC 71490-7, 71491-5, 71488-1, 71489-9).
Only claimed when every source of evidence was obtained: a key the client could not
provide (and we could not fetch) might hold the exam.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fhir_mappers.inbound.fhir_json import parse_time, period_start
from plugin.cds import codes
from plugin.cds.grading import ImageState
from plugin.workflow.types import PatientRecord

SCREENING_INTERVAL_DAYS = 365
EVIDENCE_KEYS = (
    "conditions",
    "observations",
    "procedures",
    "reports",
    "imagingStudies",
    "media",
    "documents",
)
_DONE_PROCEDURE = frozenset({"completed"})
_FINAL_OBSERVATION = frozenset({"preliminary", "final", "amended", "corrected"})


@dataclass(frozen=True)
class ScreeningDue:
    last_exam: date | None  # the newest evidence found (older than the interval), if any


@dataclass(frozen=True)
class SmartLaunch:
    url: str
    app_context: Mapping[str, Any]


@dataclass(frozen=True)
class Assessment:
    patient_ref: str
    images: ImageState
    due: ScreeningDue | None = None
    smart: SmartLaunch | None = None


def _codes(concept: Any) -> set[tuple[str, str]]:
    if not isinstance(concept, Mapping):
        return set()
    return {
        (str(c.get("system")), str(c.get("code")))
        for c in concept.get("coding") or []
        if isinstance(c, Mapping)
    }


def _day(value: Any) -> date | None:
    found = parse_time(value)
    return found.day if found else None


def _about(resource: Mapping[str, Any], patient_ref: str) -> bool:
    subject = resource.get("subject")
    ref = subject.get("reference") if isinstance(subject, Mapping) else None
    return isinstance(ref, str) and (ref == patient_ref or ref.endswith("/" + patient_ref))


def exam_dates(record: PatientRecord) -> list[date]:
    """Dates of every piece of retinal-exam evidence in the record."""
    found: list[date] = [i.date for i in record.facts.images if i.date is not None]
    found += [r.effective for r in record.prior_reports if r.effective is not None]
    exam_codes = {(codes.SNOMED, c) for c in codes.RETINAL_EXAM_PROCEDURES}
    exam_codes |= {(codes.CPT, c) for c in codes.RETINAL_EXAM_CPT}
    obs_codes = {(codes.LOINC, c) for c in codes.RETINAL_EXAM_OBSERVATIONS}
    for r in record.resources:
        if not _about(r, record.patient_ref):
            continue
        rtype = r.get("resourceType")
        if rtype == "Procedure" and r.get("status") in _DONE_PROCEDURE:
            if _codes(r.get("code")) & exam_codes:
                when = _day(r.get("performedDateTime"))
                start = period_start(r.get("performedPeriod"))
                if when or start:
                    found.append(when or start.day)  # type: ignore[union-attr]
        elif rtype == "Observation" and r.get("status") in _FINAL_OBSERVATION:
            if _codes(r.get("code")) & obs_codes:
                start = period_start(r.get("effectivePeriod"))
                when = _day(r.get("effectiveDateTime")) or (start.day if start else None)
                if when:
                    found.append(when)
    return found


def screening_due(
    record: PatientRecord, obtained: Iterable[str], today: date
) -> ScreeningDue | None:
    """`obtained`: the prefetch keys whose data we have (provided, fetched or no data)."""
    diabetes = record.facts.diabetes
    if diabetes is None or not diabetes.present:
        return None
    if not set(EVIDENCE_KEYS) <= set(obtained):
        return None
    dates = exam_dates(record)
    last = max(dates) if dates else None
    if last is not None and last >= today - timedelta(days=SCREENING_INTERVAL_DAYS):
        return None
    return ScreeningDue(last)


def recent_exam(record: PatientRecord, today: date) -> date | None:
    """The newest exam evidence within the screening interval, if any."""
    cutoff = today - timedelta(days=SCREENING_INTERVAL_DAYS)
    recent = [d for d in exam_dates(record) if d >= cutoff]
    return max(recent) if recent else None


def app_context(patient_ref: str, images: ImageState, screening_id: str | None) -> dict[str, Any]:
    """What the SMART app is told about the card (references and hashes, no PHI)."""
    out: dict[str, Any] = {"patient": patient_ref, "view": "dr-screening"}
    if screening_id:
        out["screening"] = screening_id
    if images.model is not None:
        out["model"] = f"{images.model.name}/{images.model.version}"
    if images.image_hashes:
        out["images"] = list(images.image_hashes)
    return out
