"""Typed advice output (AdviceDraft) and the caller's overrides of what ClinicalFacts says.

The draft follows DeepDR-LLM's sections (medication, diet, exercise, blood pressure, lipids,
glucose, kidney, eye, lifestyle) plus "measure this" (missing data that should exist). Every
item says which rule produced it, which facts it used (with their source references) and
which guideline statement it rests on, so a clinician can check it in a minute.
"""

from __future__ import annotations

import datetime as dt
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

# Population and AlcoholUse live with ClinicalFacts (the record carries them too); imported
# here so `models.advice.types` keeps offering them.
from models.clinical_facts import AlcoholUse, Population


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Lang(StrEnum):
    EN = "en"
    ZH = "zh"


class Engine(StrEnum):
    RULES = "rules"
    LLM = "llm"


class Section(StrEnum):
    """DeepDR-LLM's nine management sections (its output order), plus monitoring."""

    MEDICATION = "medication"
    DIET = "diet"
    EXERCISE = "exercise"
    BLOOD_PRESSURE = "blood_pressure"
    LIPIDS = "lipids"
    GLUCOSE = "glucose"
    KIDNEY = "kidney"
    EYE = "eye"
    LIFESTYLE = "lifestyle"
    MONITORING = "monitoring"


SECTION_TITLES: dict[Section, dict[Lang, str]] = {
    Section.MEDICATION: {Lang.EN: "Medication", Lang.ZH: "药物治疗"},
    Section.DIET: {Lang.EN: "Diet", Lang.ZH: "饮食控制"},
    Section.EXERCISE: {Lang.EN: "Exercise", Lang.ZH: "运动建议"},
    Section.BLOOD_PRESSURE: {Lang.EN: "Blood pressure", Lang.ZH: "血压控制"},
    Section.LIPIDS: {Lang.EN: "Lipids", Lang.ZH: "血脂管理"},
    Section.GLUCOSE: {Lang.EN: "Glucose", Lang.ZH: "血糖控制"},
    Section.KIDNEY: {Lang.EN: "Kidney", Lang.ZH: "肾脏功能"},
    Section.EYE: {Lang.EN: "Eye follow-up and referral", Lang.ZH: "眼底病变筛查与转诊"},
    Section.LIFESTYLE: {Lang.EN: "Lifestyle: smoking and alcohol", Lang.ZH: "不良生活习惯改变"},
    Section.MONITORING: {Lang.EN: "Measure this", Lang.ZH: "需要补充的检查"},
}


class Urgency(StrEnum):
    ROUTINE = "routine"
    SOON = "soon"
    URGENT = "urgent"


URGENCY_ORDER: dict[Urgency, int] = {Urgency.URGENT: 0, Urgency.SOON: 1, Urgency.ROUTINE: 2}


class AdviceContext(_Frozen):
    """Overrides for what the advice reads from ClinicalFacts (frailty, hypoglycaemia, life
    expectancy, population, alcohol, last eye exam). A field left None is taken from the
    facts; a rule whose condition needs a value that neither gives does not fire on it.
    `last_eye_exam` is combined with the record's: the later date counts (an examination
    that took place cannot be un-done by an override)."""

    frail: bool | None = None
    severe_frailty: bool | None = None  # ADA Table 13.1 "very complex/poor health"
    severe_hypoglycaemia_history: bool | None = None
    limited_life_expectancy: bool | None = None
    population: Population | None = None
    alcohol: AlcoholUse | None = None
    last_eye_exam: date | None = None


class Citation(_Frozen):
    source: str  # key into the knowledge base's sources, e.g. "ADA2025"
    source_title: str
    section: str  # e.g. "§12 Retinopathy, Neuropathy, and Foot Care"
    recommendation: str | None = None  # e.g. "12.5"
    statement: str  # short paraphrase of what the guideline says
    verified: bool = False  # read in the cited edition's text (see the knowledge base)


class FactUsed(_Frozen):
    """A fact a rule read, with where it came from (resource reference and date)."""

    name: str
    value: str
    unit: str | None = None
    source: str | None = None
    date: dt.date | None = None


class ItemOrigin(StrEnum):
    RULES = "rules"  # the rule's own text
    LLM = "llm"  # the language model's rewrite, accepted by the verifier
    FALLBACK = "fallback"  # the model's rewrite was rejected; the rule's own text is used


class AdviceItem(_Frozen):
    rule_id: str
    section: Section
    kind: str  # "advice" | "measure"
    urgency: Urgency
    text: str
    rule_text: str  # the rule's own text in the draft's language (what the verifier keeps)
    facts_used: tuple[FactUsed, ...] = ()
    citations: tuple[Citation, ...] = ()
    origin: ItemOrigin = ItemOrigin.RULES
    verifier_notes: tuple[str, ...] = ()


class AdviceDraft(_Frozen):
    patient_ref: str
    as_of: date
    lang: Lang
    engine: Engine
    knowledge_base_version: str
    items: tuple[AdviceItem, ...]
    summary: str
    model: str | None = None  # the language model that phrased it, when engine == llm
    verifier_notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = Field(default=())

    def by_section(self, section: Section) -> tuple[AdviceItem, ...]:
        return tuple(i for i in self.items if i.section == section)

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(i.rule_id for i in self.items)
