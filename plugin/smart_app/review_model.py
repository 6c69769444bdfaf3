"""The review page's view model, built from the screening record (grading, advice), the
review job's result (facts, images) and where the write-back stands on the FHIR server.
Plain data for the templates: no Flask, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from models import clinical_facts_display as display
from models.advice.types import SECTION_TITLES, AdviceDraft, AdviceItem, Lang, Section
from models.clinical_facts import ClinicalFacts, ConditionFact, Provenanced
from models.grader.result import ICDR_LABELS, EyeGrading, PatientGrading
from plugin.signoff.state import ReviewState
from plugin.workflow.summary import LESION_NAMES

EYE_LABELS = {"right": "Right eye (OD)", "left": "Left eye (OS)", "unknown": "Eye not recorded"}
URGENCY_TEXT = {"urgent": "Urgent", "soon": "Soon", "routine": "Routine"}


@dataclass(frozen=True)
class ImageView:
    index: int  # position in the job's image list (the image URLs use it)
    image_id: str
    acquired: str | None
    lesion_maps: tuple[str, ...]  # lesion keys with a map (overlay available)
    decisive: bool


@dataclass(frozen=True)
class Finding:
    label: str
    value: str
    probability: float | None = None
    flag: str | None = None  # "alert" | "ok" | None


@dataclass(frozen=True)
class EyeView:
    side: str
    label: str
    gradable: bool
    findings: tuple[Finding, ...]
    lesions: tuple[Finding, ...]
    images: tuple[ImageView, ...]
    quality_note: str | None = None


@dataclass(frozen=True)
class FactRow:
    label: str
    value: str
    date: str | None
    source: str | None


@dataclass(frozen=True)
class Citation:
    text: str  # full source title, section, recommendation
    short: str  # source key and section, for the one-line summary
    statement: str


@dataclass(frozen=True)
class ItemView:
    index: int  # position in the form (the CarePlan activity order)
    rule_id: str | None
    section: str
    text: str  # what the form shows: the plan on the server, else the draft
    draft_text: str  # the AI's text for this item
    urgency: str
    citations: tuple[Citation, ...]
    facts: tuple[str, ...]


@dataclass(frozen=True)
class SectionView:
    title: str
    items: tuple[ItemView, ...]


@dataclass
class ReviewView:
    eyes: list[EyeView] = field(default_factory=list)
    facts: list[FactRow] = field(default_factory=list)
    sections: list[SectionView] = field(default_factory=list)
    items: list[ItemView] = field(default_factory=list)
    model: str | None = None
    advice_engine: str | None = None
    referable_any: bool = False


def _pct(p: float) -> str:
    return f"{p * 100:.0f}%"


def eye_view(
    eye: EyeGrading, image_index: Mapping[str, int], images_meta: Sequence[Any]
) -> EyeView:
    img = eye.decisive
    findings: list[Finding] = []
    lesions: list[Finding] = []
    note = None
    if img is None:
        reasons = sorted({r for i in eye.images if i.quality for r in i.quality.reasons})
        note = "Ungradable: image quality insufficient. Retake the photograph." + (
            f" ({'; '.join(reasons)})" if reasons else ""
        )
    else:
        if img.quality is not None:
            findings.append(Finding("Image quality", "Gradable", img.quality.score))
        if img.dr_grade is not None:
            g = img.dr_grade.grade
            findings.append(
                Finding(
                    "DR grade (ICDR)",
                    f"{g} — {ICDR_LABELS[g]}",
                    img.dr_grade.probabilities[g],
                    "alert" if g >= 2 else "ok",
                )
            )
        if img.referable is not None:
            pos = img.referable.positive
            findings.append(
                Finding(
                    "Referable DR",
                    "Suspected" if pos else "Not suspected",
                    img.referable.probability,
                    "alert" if pos else "ok",
                )
            )
        if img.dme is not None:
            pos = img.dme.positive
            findings.append(
                Finding(
                    "Macular edema (DME)",
                    "Suspected" if pos else "Not suspected",
                    img.dme.probability,
                    "alert" if pos else "ok",
                )
            )
        for key in ("MA", "HE", "EX", "SE"):
            f = img.lesions.get(key)
            if f is not None:
                lesions.append(
                    Finding(
                        LESION_NAMES[key],
                        "Present" if f.present else "Not seen",
                        f.probability,
                        "alert" if f.present else None,
                    )
                )
    views = []
    for i in eye.images:
        idx = image_index.get(i.image_id)
        if idx is None:
            continue
        meta = images_meta[idx] if idx < len(images_meta) else {}
        maps = tuple(k for k in ("MA", "HE", "EX", "SE") if (f := i.lesions.get(k)) and f.map)
        views.append(
            ImageView(
                idx, i.image_id, meta.get("acquired"), maps, i.image_id == eye.decisive_image_id
            )
        )
    return EyeView(
        side=eye.laterality.value,
        label=EYE_LABELS[eye.laterality.value],
        gradable=img is not None,
        findings=tuple(findings),
        lesions=tuple(lesions),
        images=tuple(views),
        quality_note=note,
    )


def _fmt_date(d: date | None) -> str | None:
    return d.isoformat() if d else None


def _condition(label: str, fact: ConditionFact | None, extra: str = "") -> FactRow | None:
    if fact is None:
        return None
    state = "yes" if fact.present else "no (resolved or absent)"
    text = (fact.display or state) if fact.present else state
    if extra.strip(" ()").lower() in text.lower():  # "... stage 3B" needs no "(stage 3b)"
        extra = ""
    return FactRow(label, text + extra, _fmt_date(fact.date or fact.onset), fact.source)


def fact_rows(facts: ClinicalFacts) -> list[FactRow]:
    """The facts in clinical order: diabetes, conditions, lifestyle and what else the advice
    reads, results (glycaemia, blood pressure, body size, lipids, kidney, liver), medications;
    words, units and precision from models.clinical_facts_display."""
    rows: list[FactRow] = []
    if facts.diabetes is not None:
        d = facts.diabetes
        kind = display.diabetes_type_name(d.type)
        dur = f", {display.duration_text(d.duration_years)}" if d.duration_years is not None else ""
        value = f"{kind[0].upper()}{kind[1:]}{dur}" if d.present else "no (resolved or absent)"
        rows.append(
            FactRow(display.fact_label("diabetes"), value, _fmt_date(d.onset or d.date), d.source)
        )
    for name in display.CONDITIONS:
        extra = f" (stage {facts.ckd_stage})" if name == "ckd" and facts.ckd_stage else ""
        row = _condition(display.fact_label(name), getattr(facts, name), extra)
        if row is not None:
            rows.append(row)
    rows += _lifestyle_rows(facts)
    for name, m in display.in_clinical_order(facts.measurements):
        value = display.format_measurement(name, m)
        sent = display.sent_as(m)
        if sent:
            value += f" ({sent})"
        rows.append(_row(name, value, m))
    rows += [_row("medication", display.medication_text(med), med) for med in facts.medications]
    return rows


def _row(name: str, text: str, fact: Provenanced) -> FactRow:
    return FactRow(display.fact_label(name), text, _fmt_date(fact.date), fact.source)


def _lifestyle_rows(facts: ClinicalFacts) -> list[FactRow]:
    """Smoking, alcohol, frailty, hypoglycaemia, limited life expectancy, the last eye exam,
    the BMI population: what the advice reads besides conditions and results, when the record
    says it."""
    rows: list[FactRow] = []
    if (smoking := facts.smoking) is not None:
        rows.append(_row("smoking", display.smoking_name(smoking.status), smoking))
    if (alcohol := facts.alcohol) is not None:
        rows.append(_row("alcohol", display.alcohol_text(alcohol), alcohol))
    if (frailty := facts.frailty) is not None:
        rows.append(_row("frailty", display.frailty_text(frailty), frailty))
    if (hypo := facts.hypoglycaemia) is not None:
        rows.append(_row("hypoglycaemia", display.hypoglycaemia_text(hypo), hypo))
    life = _condition(display.fact_label("limited_life_expectancy"), facts.limited_life_expectancy)
    if life is not None:
        rows.append(life)
    if (exam := facts.last_eye_exam) is not None:
        rows.append(_row("last_eye_exam", display.eye_exam_text(exam), exam))
    if (population := facts.population) is not None:
        rows.append(_row("population", display.population_text(population), population))
    return rows


def _citations(item: AdviceItem) -> tuple[Citation, ...]:
    out = []
    for c in item.citations:
        rec = f", rec. {c.recommendation}" if c.recommendation else ""
        out.append(
            Citation(
                f"{c.source_title} — {c.section}{rec}", f"{c.source} {c.section}{rec}", c.statement
            )
        )
    return tuple(out)


def _facts_used(item: AdviceItem) -> tuple[str, ...]:
    """'HbA1c: 6.9 %, 2025-01-02 [Observation/1]': the rule's facts with the labels, words and
    precision of the facts table (the rule engine cites '%g' numbers and enum values)."""
    out = []
    for f in item.facts_used:
        value = display.fact_value_text(f.name, f.value)
        unit = f" {display.unit_text(f.unit)}" if f.unit else ""
        when = f", {f.date.isoformat()}" if f.date else ""
        src = f" [{f.source}]" if f.source else ""
        out.append(f"{display.fact_label(f.name)}: {value}{unit}{when}{src}")
    return tuple(out)


def advice_items(draft: AdviceDraft, care_plan: Mapping[str, Any] | None) -> list[ItemView]:
    """The plan's activities when one is on the server (the form must match them one to
    one), each with the draft item of the same rule; else the draft's items."""
    by_rule = {i.rule_id: i for i in draft.items}
    out: list[ItemView] = []
    if care_plan is not None:
        for n, activity in enumerate(care_plan.get("activity") or []):
            detail = activity.get("detail") or {}
            codings = ((detail.get("reasonCode") or [{}])[0]).get("coding") or [{}]
            rule = codings[0].get("code")
            item = by_rule.get(rule) if isinstance(rule, str) else None
            section = (detail.get("code") or {}).get("text") or "Advice"
            text = str(detail.get("description") or "")
            out.append(_item_view(n, item, section, text, rule, draft.lang))
        return out
    for n, item in enumerate(draft.items):
        out.append(_item_view(n, item, "", item.text, item.rule_id, draft.lang))
    return out


def _item_view(
    n: int, item: AdviceItem | None, section: str, text: str, rule: str | None, lang: Lang
) -> ItemView:
    title = SECTION_TITLES[item.section][lang] if item is not None else section
    return ItemView(
        index=n,
        rule_id=rule,
        section=title,
        text=text,
        draft_text=item.text if item is not None else text,
        urgency=item.urgency.value if item is not None else "routine",
        citations=_citations(item) if item is not None else (),
        facts=_facts_used(item) if item is not None else (),
    )


def sections_of(items: Sequence[ItemView]) -> list[SectionView]:
    order: dict[str, list[ItemView]] = {}
    for item in items:
        order.setdefault(item.section, []).append(item)
    return [SectionView(title, tuple(group)) for title, group in order.items()]


def build_review(
    grading: PatientGrading | None,
    draft: AdviceDraft | None,
    facts: ClinicalFacts | None,
    images_meta: Sequence[Mapping[str, Any]],
    state: ReviewState | None,
) -> ReviewView:
    view = ReviewView()
    index = {str(m.get("image_id")): i for i, m in enumerate(images_meta)}
    if grading is not None:
        view.eyes = [eye_view(e, index, images_meta) for e in grading.eyes]
        view.model = f"{grading.model.name} {grading.model.version}"
        view.referable_any = any(
            e.decisive is not None
            and e.decisive.referable is not None
            and e.decisive.referable.positive
            for e in grading.eyes
        )
    if facts is not None:
        view.facts = fact_rows(facts)
    if draft is not None:
        plan = state.reviewed.care_plan if state is not None else None
        view.items = advice_items(draft, plan)
        view.sections = sections_of(view.items)
        view.advice_engine = f"{draft.engine.value} (knowledge base {draft.knowledge_base_version})"
    return view


__all__ = ["Section", "ReviewView", "build_review", "fact_rows"]
