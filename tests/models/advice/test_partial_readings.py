"""A rule that fires on one value of a pair (blood pressure: systolic or diastolic) says
what is known in both languages, never "unknown/84", and cites only the facts it has."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from models.advice import Lang, build_draft
from models.clinical_facts import ClinicalFacts
from models.grader.result import PatientGrading

Factory = Callable[..., ClinicalFacts]


def _bp_text(facts: ClinicalFacts, lang: Lang, rule_id: str = "BP-ABOVE-GOAL") -> str:
    draft = build_draft(facts, lang=lang)
    (item,) = [i for i in draft.items if i.rule_id == rule_id]
    return item.text


@pytest.mark.parametrize(
    ("readings", "lang", "expected"),
    [
        ({"sbp": 137, "dbp": 84}, Lang.EN, "Blood pressure 137/84 mmHg is at or above 130/80:"),
        ({"dbp": 84}, Lang.EN, "Diastolic blood pressure 84 mmHg (systolic not recorded) is at"),
        ({"sbp": 142}, Lang.EN, "Systolic blood pressure 142 mmHg (diastolic not recorded) is at"),
        ({"sbp": 137, "dbp": 84}, Lang.ZH, "血压137/84 mmHg，达到或超过130/80"),
        ({"dbp": 84}, Lang.ZH, "舒张压84 mmHg（收缩压未记录），达到或超过130/80"),
        ({"sbp": 142}, Lang.ZH, "收缩压142 mmHg（舒张压未记录），达到或超过130/80"),
    ],
)
def test_blood_pressure_text_states_only_what_is_known(
    facts_factory: Factory, readings: dict[str, float], lang: Lang, expected: str
) -> None:
    text = _bp_text(facts_factory(**readings), lang)
    assert text.startswith(expected)
    assert "unknown" not in text and "未知" not in text


def test_the_two_drug_rule_too(facts_factory: Factory) -> None:
    two_drugs = _bp_text(facts_factory(dbp=96), Lang.EN, "BP-TWO-DRUGS")
    assert two_drugs.startswith("Diastolic blood pressure 96 mmHg (systolic not recorded)")


def test_facts_used_name_the_readings_on_record(facts_factory: Factory) -> None:
    draft = build_draft(facts_factory(dbp=84), lang=Lang.EN)
    (item,) = [i for i in draft.items if i.rule_id == "BP-ABOVE-GOAL"]
    assert [(f.name, f.value, f.source) for f in item.facts_used if f.name in ("sbp", "dbp")] == [
        ("dbp", "84", "Observation/dbp")
    ]


@pytest.mark.parametrize(
    ("lang", "expected"),
    [(Lang.EN, "insufficient for 1 eye(s)"), (Lang.ZH, "1只眼的图像质量不足")],
)
def test_eye_counts_are_whole_numbers(
    facts_factory: Factory,
    grading_factory: Callable[..., PatientGrading],
    lang: Lang,
    expected: str,
) -> None:
    grading = grading_factory(("right", None, False), ("left", 0, False))
    draft = build_draft(facts_factory(), grading, lang=lang)
    (item,) = [i for i in draft.items if i.rule_id == "EYE-UNGRADABLE"]
    assert expected in item.text
