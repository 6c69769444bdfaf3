"""The advice's extra facts, assembled from the records the other readers found:

* frailty: the latest of current frailty Conditions (SNOMED / eFI / R54) and Clinical
  Frailty Scale observations; a resolved frailty Condition says "not frail";
* hypoglycaemia: any hypoglycaemia Condition, whatever its status (it is history); the
  latest is shown, with how many there are and whether any was a coma;
* limited life expectancy (conservative): a current palliative-care / hospice / terminal
  illness Condition with clinicalStatus active, or any such Condition, Procedure or CFS 9
  dated within LIFE_RECENT_DAYS; older ones are not used (warning);
* alcohol: the latest alcohol observation, else a current alcohol use disorder Condition;
* last eye exam: the latest dated retinal examination: Procedure, DR severity / macular
  oedema Observation, retinal screening report, or fundus image; dates after `as_of` are
  ignored (warning).
"""

from __future__ import annotations

from datetime import date, timedelta

from fhir_mappers.inbound.conditions import ConditionRecord
from fhir_mappers.inbound.context import MappingContext
from fhir_mappers.inbound.observations import ObsTime
from models.clinical_facts import (
    AlcoholFact,
    AlcoholUse,
    ConditionFact,
    EyeExamFact,
    FrailtyFact,
    FrailtySeverity,
    HypoglycaemiaFact,
    ImageRef,
)

LIFE_RECENT_DAYS = 365


def _day(rec: ConditionRecord) -> date | None:
    return rec.when.day if rec.when else None


def _by_day(d: date | None) -> date:
    return d or date.min


def frailty_fact(
    records: list[ConditionRecord], scores: list[tuple[FrailtyFact, ObsTime]]
) -> FrailtyFact | None:
    candidates: list[FrailtyFact] = [f for f, _ in scores]
    for rec in records:
        if not rec.has("frailty"):
            continue
        detail = rec.detail("frailty")
        candidates.append(
            FrailtyFact(
                source=rec.ref,
                date=_day(rec),
                present=rec.current,
                severity=FrailtySeverity(detail) if detail else None,
                code=rec.code,
                display=rec.display,
            )
        )
    if not candidates:
        return None
    return max(candidates, key=lambda f: _by_day(f.date))


def hypoglycaemia_fact(records: list[ConditionRecord]) -> HypoglycaemiaFact | None:
    mine = [r for r in records if r.has("hypo")]
    if not mine:
        return None
    latest = max(mine, key=lambda r: _by_day(_day(r)))
    return HypoglycaemiaFact(
        source=latest.ref,
        date=_day(latest),
        code=latest.code,
        display=latest.display,
        coma=any(r.detail("hypo") == "coma" for r in mine),
        count=len(mine),
    )


def life_expectancy_fact(
    records: list[ConditionRecord],
    procedures: list[ConditionFact],
    scores: list[tuple[FrailtyFact, ObsTime]],
    ctx: MappingContext,
) -> ConditionFact | None:
    recent = ctx.as_of - timedelta(days=LIFE_RECENT_DAYS)
    usable: list[ConditionFact] = []
    stale: list[str] = []
    for rec in records:
        if not rec.has("life") or not rec.current:
            continue
        day = _day(rec)
        if rec.clinical_status == "active" or (day is not None and day >= recent):
            usable.append(
                ConditionFact(
                    source=rec.ref,
                    date=day,
                    present=True,
                    code=rec.code,
                    display=rec.display,
                    clinical_status=rec.clinical_status,
                )
            )
        else:
            stale.append(rec.ref)
    for proc in procedures:
        if proc.date is not None and proc.date >= recent:
            usable.append(proc)
        else:
            stale.append(proc.source)
    for score, _ in scores:
        if score.score == 9 and score.date is not None and score.date >= recent:
            usable.append(
                ConditionFact(
                    source=score.source,
                    date=score.date,
                    present=True,
                    code=score.code,
                    display="Clinical Frailty Scale 9 (terminally ill)",
                )
            )
    for ref in stale:
        ctx.warn(ref, "end-of-life care recorded over a year ago or undated; not used")
    if not usable:
        return None
    return max(usable, key=lambda f: _by_day(f.date))


def alcohol_fact(
    observed: list[tuple[AlcoholFact, ObsTime]], records: list[ConditionRecord]
) -> AlcoholFact | None:
    if observed:
        return max(observed, key=lambda ao: ao[1].key)[0]
    disorders = [r for r in records if r.has("alcohol") and r.current]
    if not disorders:
        return None
    latest = max(disorders, key=lambda r: _by_day(_day(r)))
    return AlcoholFact(source=latest.ref, date=_day(latest), use=AlcoholUse.HEAVY, code=latest.code)


def last_eye_exam(
    exams: list[EyeExamFact], images: tuple[ImageRef, ...], ctx: MappingContext
) -> EyeExamFact | None:
    candidates = list(exams)
    for img in images:
        if img.date is not None:
            candidates.append(EyeExamFact(source=img.source, date=img.date, kind=img.kind.value))
    dated: list[EyeExamFact] = []
    for exam in candidates:
        if exam.date is None:
            continue
        if exam.date > ctx.as_of:
            ctx.warn(exam.source, "eye examination dated after as_of; not used")
            continue
        dated.append(exam)
    if not dated:
        return None
    return max(dated, key=lambda e: (_by_day(e.date), e.retinopathy is not None))
