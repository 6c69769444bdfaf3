"""The verifier keeps rule content and catches contradictions injected into a rewrite."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from models.advice import AdviceDraft, Lang, build_draft
from models.advice.types import Engine, ItemOrigin
from models.advice.verifier import check_item, parse_tagged, verify_rewrite
from models.clinical_facts import ClinicalFacts
from models.grader.result import PatientGrading


def _rules_output(draft: AdviceDraft) -> dict[str, str]:
    return {i.rule_id: i.rule_text for i in draft.items}


def _as_output(draft: AdviceDraft, replace: dict[str, str]) -> str:
    return "\n".join(
        f"[{n}] {replace.get(i.rule_id, i.rule_text)}" for n, i in enumerate(draft.items, start=1)
    )


@pytest.fixture
def moderate_npdr_draft(
    facts_factory: Callable[..., ClinicalFacts], grading_factory: Callable[..., PatientGrading]
) -> AdviceDraft:
    facts = facts_factory(age=58, hba1c=8.1, meds=("statin", "metformin"), egfr=80, ldl=2.2)
    return build_draft(facts, grading_factory(("right", 2, False), ("left", 1, False)))


def test_faithful_rewrite_is_accepted(moderate_npdr_draft: AdviceDraft) -> None:
    out = _as_output(
        moderate_npdr_draft,
        {
            "LIP-CONTINUE-STATIN": "Please keep taking your statin; recheck lipids 4–12 weeks "
            "after any dose change and then every year."
        },
    )
    verified = verify_rewrite(moderate_npdr_draft, out, "fake")
    item = next(i for i in verified.items if i.rule_id == "LIP-CONTINUE-STATIN")
    assert item.origin == ItemOrigin.LLM
    assert item.text.startswith("Please keep taking")
    assert verified.engine == Engine.LLM
    assert all(i.origin == ItemOrigin.LLM for i in verified.items)


@pytest.mark.parametrize(
    ("rule_id", "bad_text", "reason"),
    [
        (
            "LIP-CONTINUE-STATIN",
            "Stop the statin; recheck lipids 4–12 weeks after changes, then every year.",
            "stop",
        ),
        ("EYE-REFER", "Moderate retinopathy: rescreen in 3 years.", "numbers not in the rule"),
        ("GLY-GOAL-ADULT", "Your HbA1c goal is below 8% (64 mmol/mol).", "numbers"),
        (
            "GLY-ABOVE-GOAL",
            "HbA1c 8.1% (65 mmol/mol) is high: add glipizide and review every 3–6 months.",
            "drugs not in the rule",
        ),
        ("EYE-REFER", "中度视网膜病变：请转诊眼科医生。", "language"),
        ("MEAS-UACR", "Measure UACR every 12 weeks.", "time units"),
    ],
)
def test_injected_contradiction_falls_back(
    moderate_npdr_draft: AdviceDraft, rule_id: str, bad_text: str, reason: str
) -> None:
    assert rule_id in moderate_npdr_draft.rule_ids
    out = _as_output(moderate_npdr_draft, {rule_id: bad_text})
    verified = verify_rewrite(moderate_npdr_draft, out, "fake")
    item = next(i for i in verified.items if i.rule_id == rule_id)
    assert item.origin == ItemOrigin.FALLBACK
    assert item.text == item.rule_text
    assert any(reason in note for note in item.verifier_notes), item.verifier_notes
    # The other items keep the model's (here: identical) text.
    others = [i for i in verified.items if i.rule_id != rule_id]
    assert all(i.origin == ItemOrigin.LLM for i in others)


def test_missing_item_and_extra_lines(moderate_npdr_draft: AdviceDraft) -> None:
    lines = _as_output(moderate_npdr_draft, {}).splitlines()
    out = "\n".join(lines[1:] + ["Also take aspirin 100 mg daily.", "[99] Take vitamin D."])
    verified = verify_rewrite(moderate_npdr_draft, out, "fake")
    assert verified.items[0].origin == ItemOrigin.FALLBACK
    assert "missing" in verified.items[0].verifier_notes[0]
    assert any("untagged" in n for n in verified.verifier_notes)
    assert any("did not produce" in n for n in verified.verifier_notes)
    assert "aspirin" not in " ".join(i.text for i in verified.items)


def test_mostly_wrong_output_falls_back_whole(moderate_npdr_draft: AdviceDraft) -> None:
    verified = verify_rewrite(moderate_npdr_draft, "I am a helpful assistant.", "fake")
    assert all(i.origin == ItemOrigin.FALLBACK for i in verified.items)
    assert all(i.text == i.rule_text for i in verified.items)
    assert any("using the rules' text for all" in n for n in verified.verifier_notes)


def test_chinese_rewrite_checked_in_chinese(
    facts_factory: Callable[..., ClinicalFacts], grading_factory: Callable[..., PatientGrading]
) -> None:
    draft = build_draft(
        facts_factory(hba1c=7.5), grading_factory(("right", 4, False)), lang=Lang.ZH
    )
    good = _as_output(
        draft,
        {
            "EYE-REFER-URGENT-PDR": "眼底检查提示增殖期病变，请尽快紧急转诊眼科，"
            "可能需要激光或抗VEGF治疗。"
        },
    )
    ok = verify_rewrite(draft, good, "fake")
    assert next(i for i in ok.items if i.rule_id == "EYE-REFER-URGENT-PDR").origin == ItemOrigin.LLM
    bad = _as_output(draft, {"EYE-REFER-URGENT-PDR": "Refer urgently to an ophthalmologist."})
    rejected = verify_rewrite(draft, bad, "fake")
    item = next(i for i in rejected.items if i.rule_id == "EYE-REFER-URGENT-PDR")
    assert item.origin == ItemOrigin.FALLBACK and "language" in item.verifier_notes[-1]


def test_parse_tagged_accepts_common_tag_shapes() -> None:
    parsed = parse_tagged("Here you go:\n[1] one\n- [2]: two\n【3】三\n[4]\ncontinued four")
    assert parsed.items == {1: "one", 2: "two", 3: "三", 4: "continued four"}
    assert parsed.untagged == ("Here you go:",)


def test_number_formats_are_normalised() -> None:
    rule = "Limit sodium to less than 2,300 mg a day (CDS 2020: salt under 5 g a day)."
    assert (
        check_item(
            "Keep sodium below 2300 mg a day (CDS 2020: under 5 g salt a day).", rule, Lang.EN
        )
        == []
    )
    assert check_item("Keep sodium below 3000 mg a day (CDS 2020: 5 g a day).", rule, Lang.EN)
