"""The review page's view model, built from the screening record (grading, advice), the
review job's result (facts, images) and where the write-back stands on the FHIR server.
Plain data for the templates: no Flask, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from models.advice.types import SECTION_TITLES, AdviceDraft, AdviceItem, Lang, Section
from models.clinical_facts import ClinicalFacts, ConditionFact
from models.grader.result import ICDR_LABELS, EyeGrading, PatientGrading
from plugin.signoff.state import ReviewState

EYE_LABELS = {"right": "Right eye (OD)", "left": "Left eye (OS)", "unknown": "Eye not recorded"}
LESION_NAMES = {
    "MA": "Microaneurysms",
    "HE": "Haemorrhages",
    "EX": "Hard exudates",
    "SE": "Cotton-wool spots",
}
FACT_LABELS = {
    "hba1c": "HbA1c",
    "fasting_glucose": "Fasting glucose",
    "sbp": "Systolic BP",
    "dbp": "Diastolic BP",
    "heart_rate": "Heart rate",
    "bmi": "BMI",
    "height": "Height",
    "weight": "Weight",
    "total_cholesterol": "Total cholesterol",
    "ldl": "LDL cholesterol",
    "hdl": "HDL cholesterol",
    "triglycerides": "Triglycerides",
    "egfr": "eGFR",
    "uacr": "Urine albumin/creatinine",
    "alt": "ALT",
    "ast": "AST",
    "ggt": "GGT",
    # Derived facts the advice rules cite (models.advice.variables).
    "age": "Age",
    "diabetes_duration_years": "Diabetes duration (years)",
    "dr_grade_max": "Worse eye's DR grade (ICDR 0-4)",
    "referable_any": "Referable DR in either eye",
    "dme_any": "Macular edema in either eye",
    "eyes_graded": "Eyes graded",
    "eyes_ungradable": "Eyes ungradable",
    "eye_exam_age_days": "Days since the last eye exam",
}
DIABETES_TEXT = {
    "type1": "Type 1",
    "type2": "Type 2",
    "gestational": "Gestational",
    "other": "Other type",
    "unspecified": "Type not recorded",
}
DRUG_CLASS_TEXT = {
    "sglt2i": "SGLT2 inhibitor",
    "glp1ra": "GLP-1 receptor agonist",
    "dpp4i": "DPP-4 inhibitor",
    "tzd": "thiazolidinedione",
    "alpha_glucosidase_inhibitor": "alpha-glucosidase inhibitor",
    "pcsk9i": "PCSK9 inhibitor",
    "acei": "ACE inhibitor",
    "arb": "ARB",
    "arni": "ARNI",
    "ccb": "calcium-channel blocker",
    "loop_diuretic": "loop diuretic",
    "mra": "mineralocorticoid receptor antagonist",
    "beta_blocker": "beta blocker",
    "other": "other class",
}
UNIT_TEXT = {"mm[Hg]": "mmHg", "mL/min/{1.73_m2}": "mL/min/1.73 m²", "kg/m2": "kg/m²"}
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
    rows: list[FactRow] = []
    if facts.diabetes is not None:
        d = facts.diabetes
        dur = f", {d.duration_years:.0f} years" if d.duration_years is not None else ""
        rows.append(
            FactRow(
                "Diabetes",
                f"{DIABETES_TEXT.get(d.type.value, d.type.value)}{dur}",
                _fmt_date(d.onset or d.date),
                d.source,
            )
        )
    for label, fact, extra in (
        ("Hypertension", facts.hypertension, ""),
        (
            "Chronic kidney disease",
            facts.ckd,
            f" (stage {facts.ckd_stage})" if facts.ckd_stage else "",
        ),
        ("Cardiovascular disease", facts.ascvd, ""),
        ("Heart failure", facts.heart_failure, ""),
        ("Prior retinopathy", facts.prior_dr, ""),
        ("Prior macular edema", facts.prior_dme, ""),
        ("Pregnancy", facts.pregnancy, ""),
    ):
        row = _condition(label, fact, extra)
        if row is not None:
            rows.append(row)
    if facts.smoking is not None:
        rows.append(
            FactRow(
                "Smoking",
                facts.smoking.status.value,
                _fmt_date(facts.smoking.date),
                facts.smoking.source,
            )
        )
    # Clinical order (FACT_LABELS: glycaemia, blood pressure, weight, lipids, kidney, liver),
    # then anything else as the record had it.
    rank = {name: i for i, name in enumerate(FACT_LABELS)}
    ordered = sorted(facts.measurements.items(), key=lambda kv: rank.get(kv[0], len(rank)))
    for name, m in ordered:
        unit = UNIT_TEXT.get(m.unit, m.unit)
        value = f"{m.comparator or ''}{m.value:g} {unit}"
        if m.original_unit and m.original_value is not None and m.original_unit != m.unit:
            value += f" (sent as {m.original_value:g} {m.original_unit})"
        rows.append(FactRow(FACT_LABELS.get(name, name), value, _fmt_date(m.date), m.source))
    for med in facts.medications:
        rows.append(
            FactRow(
                "Medication",
                f"{med.name} ({DRUG_CLASS_TEXT.get(med.drug_class.value, med.drug_class.value)})",
                _fmt_date(med.date),
                med.source,
            )
        )
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
    out = []
    for f in item.facts_used:
        unit = f" {UNIT_TEXT.get(f.unit, f.unit)}" if f.unit else ""
        when = f", {f.date.isoformat()}" if f.date else ""
        src = f" [{f.source}]" if f.source else ""
        out.append(
            f"{FACT_LABELS.get(f.name, f.name.replace('_', ' '))}: {f.value}{unit}{when}{src}"
        )
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
