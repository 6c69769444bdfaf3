"""Observations the advice reads beyond labs: Clinical Frailty Scale, alcohol use, and the
retinal findings that date an eye examination.

  * Clinical Frailty Scale (SNOMED 763264000, or 713636003 with method 445414007): a score
    1-9 as valueInteger / valueQuantity / valueCodeableConcept code / "CFS 6" text. 5 mild,
    6 moderate, 7-9 severe frailty; 1-4 not frail; 9 (terminally ill) also marks a limited
    life expectancy (advice_facts.py).
  * Alcohol: 74013-4 drinks per day (above the ADA limit of 1 a day for women / 2 for men:
    heavy; 0: none), 75626-2 AUDIT-C total (0 none; positive screen >= 4 for men, >= 3 for
    women and when sex is unknown: heavy; otherwise moderate), also as a component of the
    72109-2 panel; 11331-6 history of alcohol use read from its answer text.
  * DR severity per eye (71490-7 / 71491-5, LL2117-1 answers) and macular oedema per eye
    (71488-1 / 71489-9): the exam's date, and whether it found retinopathy.
Statuses as for measurements (observations.observation_status).
"""

from __future__ import annotations

import re
from datetime import date

from fhir_mappers.inbound import advice_codes as ac
from fhir_mappers.inbound.context import MappingContext
from fhir_mappers.inbound.fhir_json import (
    JsonObj,
    codings,
    concept_text,
    number,
    obj,
    objs,
    text,
)
from fhir_mappers.inbound.observations import ObsTime, observation_status, observation_time
from models.clinical_facts import (
    AlcoholFact,
    AlcoholUse,
    EyeExamFact,
    FrailtyFact,
    FrailtySeverity,
    Sex,
)

_CFS_TEXT = re.compile(r"clinical frailty scale|\bcfs\b|rockwood|临床衰弱量表")
_INTEGER_IN_TEXT = re.compile(r"\b([1-9])\b")
# History of alcohol use (11331-6) answers, by their words. Order matters: heavy first.
_ALCOHOL_ANSWERS: tuple[tuple[AlcoholUse, re.Pattern[str]], ...] = (
    (AlcoholUse.UNKNOWN, re.compile(r"unknown|not asked|declined|未知")),
    (
        AlcoholUse.HEAVY,
        re.compile(r"heavy|binge|excess|alcoholi[cs]|dependen|abuse|hazardous|酗酒|大量|过量"),
    ),
    (
        AlcoholUse.NONE,
        re.compile(
            r"non-?drinker|never|teetotal|abstain|does not drink|no alcohol|ex-?drinker"
            r"|former|quit|stopped|^no$|不饮酒|从不|已戒酒|戒酒"
        ),
    ),
    (
        AlcoholUse.MODERATE,
        re.compile(r"social|occasional|moderate|light|current|drinks|^yes$|偶尔|少量|饮酒"),
    ),
)


def _codes(concept: JsonObj | None) -> set[str]:
    return {c.code for c in codings(concept)}


def _dated(resource: JsonObj) -> tuple[ObsTime, date | None]:
    when = observation_time(resource)
    return when, (when.shown.day if when.shown else None)


# --- Clinical Frailty Scale -------------------------------------------------------------------


def _is_cfs(resource: JsonObj) -> bool:
    code = obj(resource, "code")
    codes = _codes(code)
    if codes & ac.SNOMED_CFS_SCORE:
        return True
    if ac.SNOMED_FRAILTY_INDEX in codes and ac.SNOMED_CFS_METHOD in _codes(obj(resource, "method")):
        return True
    return not codes - {ac.SNOMED_FRAILTY_INDEX} and bool(_CFS_TEXT.search(concept_text(code)))


def _cfs_score(resource: JsonObj) -> float | None:
    for key in ("valueInteger", "valueDecimal"):
        v = number(resource.get(key))
        if v is not None:
            return v
    q = obj(resource, "valueQuantity")
    if q is not None:
        return number(q.get("value"))
    concept = obj(resource, "valueCodeableConcept")
    for c in codings(concept):
        v = number(c.code)
        if v is not None:
            return v
    label = concept_text(concept) or (text(resource, "valueString") or "")
    m = _INTEGER_IN_TEXT.search(label)
    return float(m.group(1)) if m else None


def frailty_score_of(resource: JsonObj, ctx: MappingContext) -> tuple[FrailtyFact, ObsTime] | None:
    if not _is_cfs(resource):
        return None
    ref = ctx.ref(resource)
    if observation_status(resource, ref, ctx) is False:
        return None
    score = _cfs_score(resource)
    if score is None or score != int(score) or not 1 <= score <= 9:
        ctx.warn(ref, "Clinical Frailty Scale value not a score 1-9; ignored")
        return None
    severity = (
        None
        if score < 5
        else FrailtySeverity.MILD
        if score == 5
        else FrailtySeverity.MODERATE
        if score == 6
        else FrailtySeverity.SEVERE
    )
    when, day = _dated(resource)
    fact = FrailtyFact(
        source=ref,
        date=day,
        present=score >= 5,
        severity=severity,
        score=score,
        code=next(iter(_codes(obj(resource, "code"))), None),
        display="Clinical Frailty Scale",
    )
    return fact, when


# --- Alcohol ------------------------------------------------------------------------------


def _loinc(concept: JsonObj | None) -> set[str]:
    return {c.code for c in codings(concept) if c.kind == "loinc"}


def _drinks_use(drinks: float, sex: Sex) -> AlcoholUse:
    limit = 2.0 if sex == Sex.MALE else 1.0  # ADA: no more than 1 a day (women), 2 (men)
    if drinks <= 0:
        return AlcoholUse.NONE
    return AlcoholUse.MODERATE if drinks <= limit else AlcoholUse.HEAVY


def _audit_use(score: float, sex: Sex) -> AlcoholUse:
    positive = 4.0 if sex == Sex.MALE else 3.0  # AUDIT-C screen cut-offs
    if score <= 0:
        return AlcoholUse.NONE
    return AlcoholUse.HEAVY if score >= positive else AlcoholUse.MODERATE


def alcohol_of(
    resource: JsonObj, ctx: MappingContext, sex: Sex
) -> tuple[AlcoholFact, ObsTime] | None:
    top = _loinc(obj(resource, "code"))
    carriers: list[tuple[str, JsonObj]] = []
    for code in (ac.LOINC_ALCOHOL_DRINKS_PER_DAY, ac.LOINC_AUDIT_C_TOTAL, ac.LOINC_ALCOHOL_HISTORY):
        if code in top:
            carriers.append((code, resource))
    if ac.LOINC_AUDIT_C_PANEL in top or not carriers:
        for comp in objs(resource, "component"):
            if ac.LOINC_AUDIT_C_TOTAL in _loinc(obj(comp, "code")):
                carriers.append((ac.LOINC_AUDIT_C_TOTAL, comp))
    if not carriers:
        return None
    ref = ctx.ref(resource)
    if observation_status(resource, ref, ctx) is False:
        return None
    when, day = _dated(resource)
    code, holder = carriers[0]
    if code == ac.LOINC_ALCOHOL_HISTORY:
        label = (
            concept_text(obj(holder, "valueCodeableConcept"))
            or (text(holder, "valueString") or "").lower()
        )
        use = next((u for u, p in _ALCOHOL_ANSWERS if label and p.search(label)), None)
        if use is None:
            ctx.warn(ref, "alcohol use answer not recognised; ignored")
            return None
        ctx.warn(ref, f"alcohol use read from its answer text as {use.value}")
        return AlcoholFact(source=ref, date=day, use=use, code=code), when
    q = obj(holder, "valueQuantity")
    value = number(q.get("value")) if q is not None else None
    if value is None:
        value = number(holder.get("valueInteger"))
    if value is None or value < 0 or value > (12 if code == ac.LOINC_AUDIT_C_TOTAL else 60):
        ctx.warn(ref, f"alcohol value (LOINC {code}) missing or implausible; ignored")
        return None
    if code == ac.LOINC_ALCOHOL_DRINKS_PER_DAY:
        fact = AlcoholFact(
            source=ref,
            date=day,
            use=_drinks_use(value, sex),
            drinks_per_day=value,
            code=code,
        )
    else:
        fact = AlcoholFact(
            source=ref,
            date=day,
            use=_audit_use(value, sex),
            audit_c=value,
            code=code,
        )
    return fact, when


# --- Retinal findings (they date an eye examination) -------------------------------------------


def eye_exam_of_observation(resource: JsonObj, ctx: MappingContext) -> EyeExamFact | None:
    codes = _loinc(obj(resource, "code"))
    dr = codes & ac.LOINC_DR_SEVERITY
    me = codes & ac.LOINC_MACULAR_EDEMA
    if not dr and not me:
        return None
    ref = ctx.ref(resource)
    if observation_status(resource, ref, ctx) is False:
        return None
    _, day = _dated(resource)
    if day is None:
        ctx.warn(ref, "retinal finding without a date; not used as an eye examination")
        return None
    answers = _codes(obj(resource, "valueCodeableConcept"))
    retinopathy: bool | None = None
    if dr:
        if answers & ac.LA_RETINOPATHY:
            retinopathy = True
        elif ac.LA_NO_RETINOPATHY in answers:
            retinopathy = False
    return EyeExamFact(
        source=ref,
        date=day,
        kind="Observation",
        code=next(iter(sorted(dr or me))),
        retinopathy=retinopathy,
    )
