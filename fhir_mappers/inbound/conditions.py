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

from fhir_mappers.inbound.condition_codes import SNOMED_CONDITION_TAGS, icd10_tags
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

_NOT_A_DIAGNOSIS = re.compile(
    r"family history|\bfh\b|screening|monitoring|\breview\b|education|invitation|referral"
    r"|examination|\bexam\b|\btest\b|at risk|risk of|suspected|rule out|\br/o\b"
    r"|pre-?diabet|impaired (?:glucose|fasting)|insulin resistance|borderline|insipidus"
    r"|\((?:procedure|regime/therapy|observable entity)\)"
)
_NEGATION_BEFORE = re.compile(
    r"(?:\bno|\bwithout|\bnegative for|\bnot|\bfree of|无|未见)\W+(?:\w+\W+){0,3}$"
)
_NEGATION_AFTER = re.compile(r"^\W*(?:absent|not present|negative|ruled out|excluded)")
_DIABETES = re.compile(r"diabet|\bt[12]dm\b|\bn?iddm\b|\bdm\s*(?:type\s*)?[12]\b|糖尿病")
_TYPE1 = re.compile(
    r"type\s*(?:1|i)\b|\bt1dm\b|\biddm\b|(?<!non-)(?<!non )insulin[- ]dependent|juvenile|1型"
)
_TYPE2 = re.compile(
    r"type\s*(?:2|ii)\b|\bt2dm\b|\bniddm\b|non[- ]insulin[- ]dependent|adult[- ]onset|2型"
)
_GESTATIONAL = re.compile(r"gestational|妊娠(?:期)?糖尿病")
_OTHER_TYPE = re.compile(
    r"secondary|drug[- ]induced|steroid|\bmody\b|young|pancrea|cystic fibrosis"
)
_DR = re.compile(r"retinopath|\bn?pdr\b|视网膜病变")
_DME = re.compile(r"macular (?:o?edema)|maculopathy|\bc?s?dme\b|\bcsme\b|黄斑水肿")
_CKD = re.compile(
    r"chronic kidney|\bckd\b|chronic renal (?:failure|insufficiency|disease)|end[- ]stage renal"
    r"|end[- ]stage kidney|\besrd\b|\beskd\b|(?:diabetic|diabetes) (?:nephropathy|kidney)"
    r"|慢性肾|糖尿病肾病"
)
_CKD_STAGE = re.compile(r"(?:stage|\bg)\s*(3a|3b|[1-5])\b|ckd\s*(3a|3b|[1-5])\b|(3a|3b|[1-5])\s*期")
_HTN = re.compile(r"hypertensi|高血压")
_NOT_HTN = re.compile(r"pulmonary|ocular|intracranial|portal|white coat")
_HF = re.compile(r"heart failure|cardiac failure|\bhfref\b|\bhfpef\b|\bchf\b|心力衰竭|心衰")
_ASCVD = re.compile(
    r"myocardial infarct|\bn?stemi\b|coronary (?:artery|heart) disease|coronary arterioscl"
    r"|coronary atheroscl|\bcad\b|isch(?:a)?emic heart|angina|acute coronary|cerebral infarct"
    r"|isch(?:a)?emic stroke|\bstroke\b|cerebrovascular accident|\bcva\b|transient isch"
    r"|\btia\b|peripheral arter|peripheral vascular disease|\bpad\b"
    r"|心肌梗死|冠心病|冠状动脉粥样硬化|脑梗死|缺血性脑卒中|外周动脉疾病"
)
_NOT_ASCVD = re.compile(r"ha?emorrhag")
_PREGNANCY = re.compile(r"pregnan|gravid|妊娠")
_NOT_PREGNANCY = re.compile(
    r"not pregnant|non-?pregnant|history of|previous|post-?partum|puerper|ectopic|abortion"
    r"|miscarriage|termination|test"
)


def _says(pattern: re.Pattern[str], s: str) -> bool:
    """The label mentions the pattern, and not as "no X" / "without X" / "X absent"."""
    for m in pattern.finditer(s):
        before = re.split(r"[,;|(]", s[: m.start()])[-1]
        if not _NEGATION_BEFORE.search(before) and not _NEGATION_AFTER.search(s[m.end() :]):
            return True
    return False


def text_tags(label: str) -> set[str]:
    """Tags from a display/text, for codes our tables do not hold. Conservative: a label
    that reads like a screening, a family history or a negation gives nothing."""
    s = label.lower()
    if not s or _NOT_A_DIAGNOSIS.search(s):
        return set()
    tags: set[str] = set()
    diabetic = _says(_DIABETES, s)
    if diabetic:
        if _GESTATIONAL.search(s):
            tags |= {"diabetes:gestational", "pregnancy"}
        elif _TYPE2.search(s):
            tags.add("diabetes:type2")
        elif _TYPE1.search(s):
            tags.add("diabetes:type1")
        elif _OTHER_TYPE.search(s):
            tags.add("diabetes:other")
        else:
            tags.add("diabetes")
    if _says(_DR, s) and (diabetic or re.search(r"proliferat|pdr", s)):
        tags.add("dr")
    if _says(_DME, s) and (diabetic or re.search(r"dme|csme", s)):
        tags.add("dme")
    if _says(_CKD, s):
        m = _CKD_STAGE.search(s)
        stage = next((g for g in m.groups() if g), None) if m else None
        if re.search(r"end[- ]stage|\besrd\b|\beskd\b", s):
            stage = "5"
        tags.add(f"ckd:{stage}" if stage else "ckd")
    if _says(_HTN, s) and not _NOT_HTN.search(s):
        tags.add("htn")
    if _says(_HF, s):
        tags.add("hf")
    if _says(_ASCVD, s) and not _NOT_ASCVD.search(s):
        tags.add("ascvd")
    if _says(_PREGNANCY, s) and not _NOT_PREGNANCY.search(s):
        tags.add("pregnancy")
    return tags


def classify(concept: JsonObj | None) -> tuple[set[str], str | None, bool]:
    """(tags, the code that gave them, whether they came from the display text)."""
    tags: set[str] = set()
    known = False
    first_code: str | None = None
    for c in codings(concept):
        found: str | None = None
        if c.kind == "snomed":
            found = SNOMED_CONDITION_TAGS.get(c.code)
        elif c.kind == "icd10":
            found = icd10_tags(c.code)
        if found is not None:
            known = True
            tags |= set(found.split())
            first_code = first_code or c.code
    if known:
        return tags, first_code, False
    by_text = text_tags(concept_text(concept))
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
