"""The advice reads frailty, hypoglycaemia, life expectancy, population, alcohol and the last
eye exam from ClinicalFacts; AdviceContext overrides them; the deployment default sets the
population only when neither says."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

from models.advice import AdviceContext, AdviceItem, build_draft, parse_advise_input
from models.advice.config import AdviceSettings
from models.clinical_facts import (
    AlcoholFact,
    AlcoholUse,
    ClinicalFacts,
    ConditionFact,
    EyeExamFact,
    FrailtyFact,
    FrailtySeverity,
    HypoglycaemiaFact,
    Population,
    PopulationFact,
)

Factory = Callable[..., ClinicalFacts]


def _with(facts: ClinicalFacts, **update: object) -> ClinicalFacts:
    return facts.model_copy(update=update)


def _fact_source(items: tuple[AdviceItem, ...], rule_id: str, name: str) -> str | None:
    item = next(i for i in items if i.rule_id == rule_id)
    return next(f.source for f in item.facts_used if f.name == name)


def test_frailty_from_the_record_relaxes_the_goal(facts_factory: Factory) -> None:
    frail = FrailtyFact(source="Condition/fr", date=date(2025, 1, 5), present=True)
    facts = _with(facts_factory(age=70, hba1c=7.8), frailty=frail)
    draft = build_draft(facts)
    assert "GLY-GOAL-RELAXED" in draft.rule_ids and "GLY-ABOVE-GOAL" not in draft.rule_ids
    assert _fact_source(draft.items, "GLY-GOAL-RELAXED", "frail") == "Condition/fr"
    overridden = build_draft(facts, context=AdviceContext(frail=False))
    assert "GLY-GOAL-OLDER" in overridden.rule_ids and "GLY-ABOVE-GOAL" in overridden.rule_ids


def test_severe_frailty_from_a_cfs_score(facts_factory: Factory) -> None:
    cfs = FrailtyFact(
        source="Observation/cfs", present=True, severity=FrailtySeverity.SEVERE, score=7
    )
    draft = build_draft(_with(facts_factory(age=84, hba1c=9.1, sbp=138, dbp=70), frailty=cfs))
    ids = draft.rule_ids
    assert "GLY-GOAL-VERY-COMPLEX" in ids and "BP-GOAL-FRAIL" in ids
    assert not {"GLY-GOAL-RELAXED", "GLY-ABOVE-GOAL", "BP-ABOVE-GOAL"} & set(ids)


def test_hypoglycaemia_and_end_of_life_care_on_record(facts_factory: Factory) -> None:
    hypo = HypoglycaemiaFact(source="Condition/h", date=date(2024, 8, 1), code="E16.2")
    draft = build_draft(_with(facts_factory(age=50, meds=("insulin",)), hypoglycaemia=hypo))
    assert {"GLY-GOAL-RELAXED", "GLY-HYPO-REEVALUATE"} <= set(draft.rule_ids)
    pal = ConditionFact(source="Procedure/pal", date=date(2025, 2, 1), code="103735009")
    draft = build_draft(_with(facts_factory(age=50), limited_life_expectancy=pal))
    assert "GLY-GOAL-RELAXED" in draft.rule_ids
    assert _fact_source(draft.items, "GLY-GOAL-RELAXED", "limited_life_expectancy") == (
        "Procedure/pal"
    )


def test_population_precedence(facts_factory: Factory) -> None:
    base = facts_factory(bmi=24.5)
    chinese = PopulationFact(source="Patient/1", population=Population.CHINESE, basis="address")
    assert "WT-LOSS-GENERAL" not in build_draft(base).rule_ids
    assert "WT-LOSS-CHINESE" in build_draft(_with(base, population=chinese)).rule_ids
    assert "WT-LOSS-CHINESE" in build_draft(base, default_population=Population.CHINESE).rule_ids
    asian = PopulationFact(
        source="Patient/1", population=Population.ASIAN_AMERICAN, basis="US Core race"
    )
    record_wins = build_draft(_with(base, population=asian), default_population=Population.CHINESE)
    assert "WT-LOSS-ASIAN-AMERICAN" in record_wins.rule_ids
    context_wins = build_draft(
        _with(base, population=chinese), context=AdviceContext(population=Population.GENERAL)
    )
    assert not {"WT-LOSS-CHINESE", "WT-LOSS-GENERAL"} & set(context_wins.rule_ids)


def test_alcohol_from_the_record_and_its_override(facts_factory: Factory) -> None:
    heavy = AlcoholFact(source="Observation/audit", use=AlcoholUse.HEAVY, audit_c=7)
    facts = _with(facts_factory(), alcohol=heavy)
    assert "LIFE-ALCOHOL-HEAVY" in build_draft(facts).rule_ids
    context = AdviceContext(alcohol=AlcoholUse.NONE)
    assert "LIFE-ALCOHOL-HEAVY" not in build_draft(facts, context=context).rule_ids


def test_last_eye_exam_the_later_of_record_and_context(facts_factory: Factory) -> None:
    exam = EyeExamFact(source="Procedure/ex", date=date(2024, 11, 1), kind="Procedure")
    facts = _with(facts_factory(hba1c=6.5), last_eye_exam=exam)
    assert "MEAS-EYE-EXAM" not in build_draft(facts).rule_ids
    older = AdviceContext(last_eye_exam=date(2020, 1, 1))
    assert "MEAS-EYE-EXAM" not in build_draft(facts, context=older).rule_ids
    stale = _with(facts, last_eye_exam=exam.model_copy(update={"date": date(2022, 1, 1)}))
    assert "MEAS-EYE-EXAM" in build_draft(stale).rule_ids
    newer = AdviceContext(last_eye_exam=date(2025, 1, 1))
    assert "MEAS-EYE-EXAM" not in build_draft(stale, context=newer).rule_ids


def test_retinopathy_at_the_last_exam_shortens_the_interval(facts_factory: Factory) -> None:
    exam = EyeExamFact(
        source="Observation/dr", date=date(2023, 12, 1), kind="Observation", retinopathy=True
    )
    facts = _with(facts_factory(hba1c=6.5), last_eye_exam=exam)
    assert "MEAS-EYE-EXAM" in build_draft(facts).rule_ids  # 15 months, DR found last time
    normal = _with(facts, last_eye_exam=exam.model_copy(update={"retinopathy": False}))
    assert "MEAS-EYE-EXAM" not in build_draft(normal).rule_ids


def test_facts_json_with_the_new_fields_is_advise_input(facts_factory: Factory) -> None:
    frail = FrailtyFact(source="Condition/fr", present=True, severity=FrailtySeverity.MILD)
    facts = _with(facts_factory(age=70), frailty=frail, conflicting=("hba1c",))
    inp = parse_advise_input(json.loads(facts.model_dump_json()))
    assert inp.facts == facts and inp.context == AdviceContext()
    old_context = {"population": "general", "alcohol": "unknown"}  # the 2025.1 shape
    doc = {"facts": json.loads(facts.model_dump_json()), "context": old_context}
    assert parse_advise_input(doc).context.population == Population.GENERAL


def test_deployment_population_setting() -> None:
    assert AdviceSettings().population is None
    assert AdviceSettings.model_validate({"population": "chinese"}).population == Population.CHINESE
