"""Rules engine: facts (+ grading, + context) -> fired rules -> AdviceDraft. Deterministic:
rules are evaluated in knowledge-base order and items keep that order within a section."""

from __future__ import annotations

from models.advice.kb import PLACEHOLDER, KnowledgeBase, Rule, load_knowledge_base
from models.advice.types import (
    SECTION_TITLES,
    URGENCY_ORDER,
    AdviceContext,
    AdviceDraft,
    AdviceItem,
    Citation,
    Engine,
    FactUsed,
    Lang,
    Population,
    Section,
    Urgency,
)
from models.advice.variables import DISPLAY_ONLY, Var, build_variables, display_values
from models.clinical_facts import ClinicalFacts
from models.grader.result import PatientGrading

SECTION_ORDER: tuple[Section, ...] = tuple(Section)

_UNKNOWN = {Lang.EN: "unknown", Lang.ZH: "未知"}


def fire_rules(kb: KnowledgeBase, variables: dict[str, Var]) -> list[tuple[Rule, frozenset[str]]]:
    """The rules whose conditions hold, each with the variables that made it hold."""
    fired_ids: set[str] = set()
    fired: list[tuple[Rule, frozenset[str]]] = []
    for rule in kb.rules:
        outcome = rule.condition.evaluate(variables, frozenset(fired_ids))
        if outcome.holds:
            fired_ids.add(rule.id)
            fired.append((rule, outcome.used))
    return fired


def render_template(template: str, shown: dict[str, str], lang: Lang) -> str:
    return PLACEHOLDER.sub(lambda m: shown.get(m.group(1), _UNKNOWN[lang]), template)


def _facts_used(
    rule: Rule, used: frozenset[str], variables: dict[str, Var]
) -> tuple[FactUsed, ...]:
    names: list[str] = []
    for placeholder in (*sorted(used), *rule.spec.uses, *sorted(rule.placeholders)):
        for n in DISPLAY_ONLY.get(placeholder, (placeholder,)):
            if n in variables and n not in names:
                names.append(n)
    return tuple(variables[n].fact_used(n) for n in names)


def build_draft(
    facts: ClinicalFacts,
    grading: PatientGrading | None = None,
    context: AdviceContext | None = None,
    lang: Lang = Lang.EN,
    kb: KnowledgeBase | None = None,
    default_population: Population | None = None,
) -> AdviceDraft:
    """The rules' own draft (engine = rules). `default_population`: the deployment's BMI
    population when neither the context nor the record says (AdviceSettings.population)."""
    kb = kb or load_knowledge_base()
    variables = build_variables(facts, grading, context or AdviceContext(), default_population)
    shown = display_values(variables, lang)
    items: list[AdviceItem] = []
    for rule, used in fire_rules(kb, variables):
        text = render_template(rule.spec.text.get(lang), shown, lang)
        items.append(
            AdviceItem(
                rule_id=rule.id,
                section=rule.spec.section,
                kind=rule.spec.kind,
                urgency=rule.spec.urgency,
                text=text,
                rule_text=text,
                facts_used=_facts_used(rule, used, variables),
                citations=rule.citations,
            )
        )
    items.sort(key=lambda i: SECTION_ORDER.index(i.section))  # stable: KB order within
    return AdviceDraft(
        patient_ref=facts.patient_ref,
        as_of=facts.as_of,
        lang=lang,
        engine=Engine.RULES,
        knowledge_base_version=kb.version,
        items=tuple(items),
        summary=summarise(items, kb, lang),
        warnings=facts.warnings,
    )


def summarise(items: list[AdviceItem], kb: KnowledgeBase, lang: Lang) -> str:
    """One paragraph: urgent first, then soon, then how much routine and what to measure."""
    titles: dict[Urgency, list[str]] = {u: [] for u in Urgency}
    measures: list[str] = []
    for item in sorted(items, key=lambda i: URGENCY_ORDER[i.urgency]):
        title = kb.rule(item.rule_id).spec.title.get(lang)
        if item.kind == "measure":
            measures.append(title)
        else:
            titles[item.urgency].append(title)
    sep = "; " if lang == Lang.EN else "；"
    parts: list[str] = []
    if lang == Lang.EN:
        if titles[Urgency.URGENT]:
            parts.append("Urgent: " + sep.join(titles[Urgency.URGENT]) + ".")
        if titles[Urgency.SOON]:
            parts.append("Soon: " + sep.join(titles[Urgency.SOON]) + ".")
        parts.append(f"{len(titles[Urgency.ROUTINE])} routine recommendation(s).")
        if measures:
            parts.append("Measure: " + sep.join(measures) + ".")
        if not items:
            return "No rule applies to the available facts."
    else:
        if titles[Urgency.URGENT]:
            parts.append("紧急：" + sep.join(titles[Urgency.URGENT]) + "。")
        if titles[Urgency.SOON]:
            parts.append("尽快：" + sep.join(titles[Urgency.SOON]) + "。")
        parts.append(f"常规建议{len(titles[Urgency.ROUTINE])}条。")
        if measures:
            parts.append("需补充检查：" + sep.join(measures) + "。")
        if not items:
            return "现有资料未触发任何规则。"
    return " ".join(parts) if lang == Lang.EN else "".join(parts)


def _cite_label(c: Citation) -> str:
    rec = f" rec. {c.recommendation}" if c.recommendation else ""
    return f"{c.source} {c.section}{rec}"


def render_text(draft: AdviceDraft) -> str:
    """Plain text for the terminal: summary, then numbered sections with citations."""
    lang = draft.lang
    lines = [draft.summary, ""]
    n = 0
    for section in SECTION_ORDER:
        items = draft.by_section(section)
        if not items:
            continue
        n += 1
        lines.append(f"{n}. {SECTION_TITLES[section][lang]}")
        for item in items:
            flag = "" if item.urgency == Urgency.ROUTINE else f"[{item.urgency.value}] "
            lines.append(f"   - {flag}{item.text}")
            cites = "; ".join(
                f"{c.source} {c.section}"
                + (f" rec. {c.recommendation}" if c.recommendation else "")
                for c in item.citations
            )
            lines.append(f"     ({item.rule_id}; {cites})")
    if draft.warnings:
        lines += ["", "Warnings: " + "; ".join(draft.warnings)]
    return "\n".join(lines)
