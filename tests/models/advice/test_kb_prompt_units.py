"""Knowledge-base validation, both languages for every rule, units, and the prompt builder."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest

from models.advice import KnowledgeBaseError, Lang, build_draft, load_knowledge_base
from models.advice.prompt import deepdr_input, describe_grading, probability_phrase
from models.clinical_facts import ClinicalFacts
from models.grader.result import PatientGrading

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_rule_has_english_chinese_and_a_citation() -> None:
    kb = load_knowledge_base()
    assert len(kb.rules) >= 60
    for rule in kb.rules:
        assert CJK.search(rule.spec.text.zh), rule.id  # titles may be 'HbA1c', 'eGFR'
        assert not CJK.search(rule.spec.text.en), rule.id
        assert rule.citations and all(c.section for c in rule.citations), rule.id
    sources = {c.source for r in kb.rules for c in r.citations}
    assert sources == {"ADA2025", "CDS2020"}


def _kb_copy(tmp_path: Path) -> Path:
    src = Path(str(resources.files("models.advice") / "knowledge"))
    dst = tmp_path / "kb"
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("when: {pregnancy: true}", "when: {pregnancyy: true}", "unknown variable"),
        ("when: {pregnancy: true}", "when: {pregnancy: {lt: 3}}", "needs a numeric variable"),
        ("when: {pregnancy: true}", "when: {fired: MEAS-HBA1C}", "no earlier rule"),
        ("when: {pregnancy: true}", "when: {__import__: true}", "unknown variable"),
        ("prescribe glucagon for", "prescribe {glucagon_dose} for", "placeholder"),
        (
            '        checked: "Read in Table 13.1',
            '        verified: true\n        not_a_field: "Read in Table 13.1',
            "not_a_field",
        ),
        (
            '    statement: "Glucagon',
            '    verified: true\n        statement: "Glucagon',
            "checked",
        ),
    ],
)
def test_malformed_knowledge_base_is_refused(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    kb_dir = _kb_copy(tmp_path)
    path = kb_dir / "rules_10_glycaemia.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match=message):
        load_knowledge_base(kb_dir)


def test_units_are_shown_in_both_systems(facts_factory: Callable[..., ClinicalFacts]) -> None:
    facts = facts_factory(hba1c=8.4, ldl=1.9, triglycerides=6.0, meds=("statin",), ascvd=True)
    for lang in Lang:
        texts = {i.rule_id: i.text for i in build_draft(facts, lang=lang).items}
        assert "8.4%" in texts["GLY-ABOVE-GOAL"] and "68 mmol/mol" in texts["GLY-ABOVE-GOAL"]
        assert "1.9 mmol/L" in texts["LIP-ADD-NONSTATIN-ASCVD"]
        assert "73 mg/dL" in texts["LIP-ADD-NONSTATIN-ASCVD"]
        assert "531 mg/dL" in texts["LIP-TG-VERY-HIGH"]
        assert "1.4 mmol/L" in texts["LIP-ASCVD-GOAL"] and "1.8 mmol/L" in texts["LIP-ASCVD-GOAL"]


def test_draft_is_deterministic_and_cites_sources(
    facts_factory: Callable[..., ClinicalFacts],
) -> None:
    facts = facts_factory(hba1c=7.7, egfr=40, uacr=50, hypertension=True, meds=("metformin",))
    a, b = build_draft(facts), build_draft(facts)
    assert a == b
    item = next(i for i in a.items if i.rule_id == "MED-METFORMIN-REDUCE-EGFR")
    assert [(f.name, f.value, f.source) for f in item.facts_used][:2] == [
        ("egfr", "40", "Observation/egfr"),
        ("on_metformin", "yes", "MedicationStatement/metformin"),
    ]
    assert a.knowledge_base_version == load_knowledge_base().version


@pytest.mark.parametrize(
    ("p", "en", "zh"),
    [
        (0.0, "unlikely", "不太可能"),
        (0.19, "unlikely", "不太可能"),
        (0.2, "possibly", "有较小可能"),
        (0.49, "possibly", "有较小可能"),
        (0.5, "likely", "可能"),
        (0.89, "likely", "可能"),
        (0.9, "very likely", "很可能"),
        (1.0, "very likely", "很可能"),
    ],
)
def test_probability_bands(p: float, en: str, zh: str) -> None:
    assert probability_phrase(p, Lang.EN) == en
    assert probability_phrase(p, Lang.ZH) == zh


def test_grading_phrases_and_deepdr_format(
    facts_factory: Callable[..., ClinicalFacts],
    grading_factory: Callable[..., PatientGrading],
) -> None:
    grading = grading_factory(("right", 2, True), ("left", None, False))
    en = describe_grading(grading, Lang.EN)
    assert en[0].startswith("right eye: likely moderate NPDR")
    assert "very likely macular oedema" in en[0]
    assert en[1] == "left eye: no gradable image"
    zh = deepdr_input(facts_factory(hba1c=7.1, sex="female"), grading, None, Lang.ZH)
    assert zh.startswith("{性别:女, 年龄:55")
    assert "糖化血红蛋白:7.1%" in zh and zh.endswith("DR分级:2；DME分级:1}")
