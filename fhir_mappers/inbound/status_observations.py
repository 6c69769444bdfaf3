"""Coded-answer Observations: smoking status (72166-2, 11367-0) and pregnancy status
(82810-3, 11449-6). Answers are read from SNOMED / LOINC LA codes, then from the text.
The latest observation wins; smoking recorded as a Condition is used only when there is no
smoking observation (facts.py)."""

from __future__ import annotations

import re

from fhir_mappers import codes
from fhir_mappers.inbound.context import MappingContext
from fhir_mappers.inbound.fhir_json import JsonObj, codings, concept_text, obj
from fhir_mappers.inbound.observations import (
    ObsTime,
    has_code,
    observation_status,
    observation_time,
)
from models.clinical_facts import ConditionFact, SmokingFact, SmokingStatus

_SMOKING_TEXT: tuple[tuple[SmokingStatus, re.Pattern[str]], ...] = (
    (SmokingStatus.UNKNOWN, re.compile(r"unknown|not asked|declined|未知")),
    (SmokingStatus.NEVER, re.compile(r"never|non[- ]?smoker|从不|不吸烟")),
    (SmokingStatus.FORMER, re.compile(r"former|\bex[- ]|quit|stopped|已戒烟|戒烟")),
    (SmokingStatus.CURRENT, re.compile(r"current|every day|some day|daily|smoker|smokes|吸烟")),
)
_PREGNANT_TEXT = re.compile(r"not pregnant|non-?pregnant|未怀孕|未妊娠")
_PREGNANT_YES = re.compile(r"\bpregnant\b|妊娠|怀孕")


def _answer(resource: JsonObj) -> tuple[JsonObj | None, str]:
    concept = obj(resource, "valueCodeableConcept")
    label = concept_text(concept) if concept else ""
    if not label and isinstance(resource.get("valueString"), str):
        label = str(resource["valueString"]).lower()
    return concept, label


def smoking_of(resource: JsonObj, ctx: MappingContext) -> tuple[SmokingFact, ObsTime] | None:
    if not has_code(obj(resource, "code"), codes.LOINC_SMOKING):
        return None
    ref = ctx.ref(resource)
    if observation_status(resource, ref, ctx) is False:
        return None
    concept, label = _answer(resource)
    status: SmokingStatus | None = None
    answer_code: str | None = None
    for c in codings(concept):
        if c.code in codes.SMOKING_ANSWERS:
            status, answer_code = SmokingStatus(codes.SMOKING_ANSWERS[c.code]), c.code
            break
    if status is None:
        for candidate, pattern in _SMOKING_TEXT:
            if label and pattern.search(label):
                status = candidate
                break
        if status is None:
            ctx.warn(ref, "smoking status answer not recognised; ignored")
            return None
        ctx.warn(ref, f"smoking status answer read from its text as {status.value}")
    when = observation_time(resource)
    day = when.shown.day if when.shown else None
    return SmokingFact(source=ref, date=day, status=status, code=answer_code), when


def pregnancy_of(resource: JsonObj, ctx: MappingContext) -> tuple[ConditionFact, ObsTime] | None:
    if not has_code(obj(resource, "code"), codes.LOINC_PREGNANCY):
        return None
    ref = ctx.ref(resource)
    if observation_status(resource, ref, ctx) is False:
        return None
    concept, label = _answer(resource)
    pregnant: bool | None = None
    known = False
    answer_code: str | None = None
    for c in codings(concept):
        if c.code in codes.PREGNANCY_ANSWERS:
            pregnant, known, answer_code = codes.PREGNANCY_ANSWERS[c.code], True, c.code
            break
    if not known and label:
        if _PREGNANT_TEXT.search(label):
            pregnant, known = False, True
        elif _PREGNANT_YES.search(label):
            pregnant, known = True, True
    if not known:
        ctx.warn(ref, "pregnancy status answer not recognised; ignored")
        return None
    if pregnant is None:
        return None  # "unknown" says nothing
    when = observation_time(resource)
    day = when.shown.day if when.shown else None
    fact = ConditionFact(source=ref, date=day, present=pregnant, code=answer_code, onset=None)
    return fact, when
