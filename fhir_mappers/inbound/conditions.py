"""Condition resources -> diabetes (type, duration), comorbidities, prior DR/DME, pregnancy.

Status rules (R4 Condition):
  * verificationStatus refuted or entered-in-error: ignored (with a warning);
  * clinicalStatus active / recurrence / relapse: current; inactive / resolved: over;
    remission: current for diabetes, over for the others; no clinicalStatus: over when an
    abatement is recorded, else current;
  * history facts (prior DR, prior DME, ASCVD) count whatever the status: a resolved
    myocardial infarction is still cardiovascular disease;
  * a pregnancy recorded more than 300 days before `as_of` with no end is not current.
Codes: SNOMED CT and ICD-10 / ICD-10-CM tables (condition_codes.py); a code in neither
falls back to its display text, with a warning saying so.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from fhir_mappers.inbound.advice_codes import (
    SNOMED_ADVICE_TAGS,
    advice_text_tags,
    icd10_advice_tags,
)
from fhir_mappers.inbound.condition_codes import SNOMED_CONDITION_TAGS, icd10_tags
from fhir_mappers.inbound.condition_text import text_tags
from fhir_mappers.inbound.context import MappingContext
from fhir_mappers.inbound.fhir_json import (
    FhirTime,
    JsonObj,
    codings,
    concept_text,
    first_display,
    iter_values,
    number,
    obj,
    parse_time,
    period_start,
    status_code,
    text,
)
from models.clinical_facts import ConditionFact, DiabetesFact, DiabetesType

_CURRENT = {"active", "recurrence", "relapse"}
_OVER = {"inactive", "resolved"}
_IGNORED_VERIFICATION = {"refuted", "entered-in-error"}
_HISTORY_TAGS = {"dr", "dme", "ascvd"}
PREGNANCY_MAX_DAYS = 300


@dataclass(frozen=True)
class ConditionRecord:
    ref: str
    tags: frozenset[str]
    code: str | None
    display: str | None
    clinical_status: str | None
    current: bool  # by status/abatement, before the per-category rules
    remission: bool
    onset: FhirTime | None
    recorded: FhirTime | None

    def has(self, category: str) -> bool:
        return any(t == category or t.startswith(category + ":") for t in self.tags)

    def detail(self, category: str) -> str | None:
        for t in self.tags:
            if t.startswith(category + ":"):
                return t.split(":", 1)[1]
        return None

    def present_for(self, category: str) -> bool:
        if category in _HISTORY_TAGS:
            return True
        if self.remission:
            return category == "diabetes"
        return self.current

    @property
    def when(self) -> FhirTime | None:
        return self.recorded or self.onset


# --- Classification ---------------------------------------------------------------------


def _joined(*found: str | None) -> str | None:
    """Tags from several tables; None only when no table knows the code ("" = known, no tag)."""
    known = [f for f in found if f is not None]
    return " ".join(known) if known else None


def classify(concept: JsonObj | None) -> tuple[set[str], str | None, bool]:
    """(tags, the code that gave them, whether they came from the display text)."""
    tags: set[str] = set()
    known = False
    first_code: str | None = None
    for c in codings(concept):
        found: str | None = None
        if c.kind == "snomed":
            found = _joined(SNOMED_CONDITION_TAGS.get(c.code), SNOMED_ADVICE_TAGS.get(c.code))
        elif c.kind == "icd10":
            found = _joined(icd10_tags(c.code), icd10_advice_tags(c.code))
        if found is not None:
            known = True
            tags |= set(found.split())
            first_code = first_code or c.code
    if known:
        return tags, first_code, False
    label = concept_text(concept)
    by_text = text_tags(label) | advice_text_tags(label)
    code = next((c.code for c in codings(concept)), None)
    return by_text, code, bool(by_text)


# --- Reading ----------------------------------------------------------------------------


def _onset(resource: JsonObj, ctx: MappingContext) -> FhirTime | None:
    for suffix, v in iter_values(resource, "onset"):
        if suffix == "DateTime":
            return parse_time(v)
        if suffix == "Period":
            return period_start(v)
        if suffix in ("Age", "Range"):
            q = obj(resource, "onsetAge") or obj(obj(resource, "onsetRange"), "low")
            years = number(q.get("value")) if q else None
            unit = (text(q, "code") or text(q, "unit") or "a").lower() if q else "a"
            if years is None or ctx.birth_date is None or unit not in ("a", "yr", "year", "years"):
                return None
            d = ctx.birth_date + timedelta(days=round(years * 365.25))
            return parse_time(d.isoformat())
        if suffix == "String":
            m = re.search(r"\b(19|20)\d{2}\b", v) if isinstance(v, str) else None
            return parse_time(m.group(0)) if m else None
    return None


def read_condition(resource: JsonObj, ctx: MappingContext) -> ConditionRecord | None:
    ref = ctx.ref(resource)
    verification = status_code(resource, "verificationStatus")
    if verification in _IGNORED_VERIFICATION:
        ctx.warn(ref, f"ignored (verificationStatus {verification})")
        return None
    code = obj(resource, "code")
    if code is None:
        ctx.warn(ref, "no code; ignored")
        return None
    tags, first_code, by_text = classify(code)
    if not tags:
        return None
    if by_text:
        cats = ", ".join(sorted(tags))
        ctx.warn(ref, f"code not in our tables; read from its display text as {cats}")
    clinical = status_code(resource, "clinicalStatus")
    abated = any(True for _ in iter_values(resource, "abatement"))
    if clinical in _CURRENT:
        current = True
        if abated:
            ctx.warn(ref, f"clinicalStatus {clinical} with an abatement; taken as {clinical}")
    elif clinical in _OVER or clinical == "remission":
        current = False
    elif clinical is None:
        current = not abated
    else:
        ctx.warn(ref, "unrecognised clinicalStatus; taken as active")
        current = True
    if verification in ("provisional", "differential", "unconfirmed"):
        ctx.warn(ref, f"verificationStatus {verification}; used as recorded")
    return ConditionRecord(
        ref=ref,
        tags=frozenset(tags),
        code=first_code,
        display=first_display(code),
        clinical_status=clinical,
        current=current,
        remission=clinical == "remission",
        onset=_onset(resource, ctx),
        recorded=parse_time(resource.get("recordedDate")),
    )


# --- Facts ------------------------------------------------------------------------------


def _fact(rec: ConditionRecord, present: bool) -> ConditionFact:
    return ConditionFact(
        source=rec.ref,
        date=rec.when.day if rec.when else None,
        present=present,
        code=rec.code,
        display=rec.display,
        onset=rec.onset.day if rec.onset else None,
        clinical_status=rec.clinical_status,
    )


def _sort_key(rec: ConditionRecord) -> tuple[int, float]:
    t = rec.onset or rec.recorded
    return (0, t.instant.timestamp()) if t else (1, 0.0)


def condition_fact(records: list[ConditionRecord], category: str) -> ConditionFact | None:
    """The category's fact: the current record with the earliest onset; else the latest
    record saying it is over (present False); None when no record mentions it."""
    mine = [r for r in records if r.has(category)]
    present = [r for r in mine if r.present_for(category)]
    if present:
        return _fact(min(present, key=_sort_key), True)
    if mine:
        latest = max(mine, key=lambda r: r.when.instant.timestamp() if r.when else 0.0)
        return _fact(latest, False)
    return None


def pregnancy_fact(records: list[ConditionRecord], ctx: MappingContext) -> ConditionFact | None:
    fact = condition_fact(records, "pregnancy")
    if fact is None or not fact.present:
        return fact
    start = fact.onset or fact.date
    if start is not None and (ctx.as_of - start).days > PREGNANCY_MAX_DAYS:
        ctx.warn(fact.source, "pregnancy recorded over 300 days ago with no end; not current")
        return fact.model_copy(update={"present": False})
    return fact


def ckd_stage(records: list[ConditionRecord]) -> str | None:
    """The stage of the most recently recorded current CKD record that states one."""
    staged = [r for r in records if r.has("ckd") and r.current and r.detail("ckd")]
    if not staged:
        return None
    latest = max(staged, key=lambda r: r.when.instant.timestamp() if r.when else 0.0)
    return latest.detail("ckd")


_TYPE_ORDER = {"type1": 0, "type2": 1, "other": 2, "gestational": 3}


def diabetes_fact(records: list[ConditionRecord], ctx: MappingContext) -> DiabetesFact | None:
    mine = [r for r in records if r.has("diabetes")]
    if not mine:
        return None
    current = [r for r in mine if r.present_for("diabetes")]
    if not current:
        base = condition_fact(mine, "diabetes")
        assert base is not None
        rec = next(r for r in mine if r.ref == base.source)
        kind = rec.detail("diabetes") or "unspecified"
        return DiabetesFact(**base.model_dump(), type=DiabetesType(kind))
    typed = [r for r in current if r.detail("diabetes") not in (None, "unspecified")]
    kinds = Counter(r.detail("diabetes") for r in typed)
    if len(kinds) > 1 and "gestational" in kinds:
        del kinds["gestational"]  # pre-existing diabetes outranks a gestational code
    chosen_type = DiabetesType.UNSPECIFIED
    deciding = min(current, key=_sort_key)
    if kinds:

        def rank(kind: str | None) -> tuple[int, float, int]:
            latest = max(
                (
                    r.when.instant.timestamp()
                    for r in typed
                    if r.detail("diabetes") == kind and r.when
                ),
                default=0.0,
            )
            return (kinds[kind], latest, -_TYPE_ORDER.get(kind or "", 9))

        best = max(kinds, key=rank)
        if len(kinds) > 1:
            names = ", ".join(sorted(k for k in kinds if k))
            ctx.warn(deciding.ref, f"conflicting diabetes types ({names}); used {best}")
        chosen_type = DiabetesType(best or "unspecified")
        deciding = min((r for r in typed if r.detail("diabetes") == best), key=_sort_key)
    return _with_duration(deciding, current, chosen_type, ctx)


def _with_duration(
    deciding: ConditionRecord,
    current: list[ConditionRecord],
    dtype: DiabetesType,
    ctx: MappingContext,
) -> DiabetesFact:
    with_onset = [r for r in current if r.onset is not None]
    onset_rec: ConditionRecord | None = None
    onset: date | None = None
    if with_onset:
        onset_rec = min(with_onset, key=_sort_key)
        onset = onset_rec.onset.day if onset_rec.onset else None
    else:
        with_recorded = [r for r in current if r.recorded is not None]
        if with_recorded:
            onset_rec = min(with_recorded, key=lambda r: r.recorded.instant if r.recorded else 0)
            onset = onset_rec.recorded.day if onset_rec.recorded else None
            ctx.warn(onset_rec.ref, "no onset; diabetes duration counted from recordedDate")
    duration: float | None = None
    if onset is not None:
        days = (ctx.as_of - onset).days
        if days < 0:
            ctx.warn(onset_rec.ref if onset_rec else deciding.ref, "onset after as_of; no duration")
        else:
            duration = round(days / 365.25, 1)
    base = _fact(deciding, True)
    return DiabetesFact(
        **{**base.model_dump(), "onset": onset},
        type=dtype,
        duration_years=duration,
        onset_source=onset_rec.ref if onset_rec and onset_rec.ref != deciding.ref else None,
    )
