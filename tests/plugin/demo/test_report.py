"""What the demo prints, read as a clinician reads it: per eye the AI's words beside the
dataset's label, a note when the grade and the referable output disagree, reasons for an
ungradable eye, eye advice first. (The facts line is plugin.workflow.summary.facts_line, the
`screen` command's too: tests/plugin/workflow/test_summary.py.)"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from models.advice import AdviceDraft
from models.advice.types import AdviceItem, Engine, Lang, Section, Urgency
from models.grader.result import BinaryFinding, ImageGrading, ModelInfo, Quality
from plugin.demo.photos import Photo
from plugin.demo.report import advice_lines, eye_lines

MODEL = ModelInfo(name="m", version="1")


def photo(grade: int, referable: bool) -> Photo:
    return Photo(Path("x.jpg"), "set/x.jpg", "right", grade, None, referable)


def summary(grade: int, referable: bool, p_ref: float) -> dict[str, Any]:
    return {
        "eye": "right",
        "gradable": True,
        "decisive_image": "i1",
        "dr_grade": grade,
        "dr_label": "no apparent retinopathy" if grade == 0 else "moderate NPDR",
        "dr_probability": 0.4,
        "referable": referable,
        "referable_probability": p_ref,
        "dme": False,
        "dme_probability": 0.05,
        "lesions": ["EX"],
    }


def test_grade_and_referable_disagreeing_gets_a_note_with_the_threshold() -> None:
    image = ImageGrading(
        image_id="i1",
        model=MODEL,
        referable=BinaryFinding(probability=0.30, positive=True, threshold=0.2792),
    )
    lines = eye_lines("right", summary(0, True, 0.30), [image], photo(0, False))
    ai, dataset, note = lines
    assert ai.startswith("  Right eye  AI ") and "referable yes (p=0.30)" in ai
    assert "lesions: hard exudates" in ai
    assert "no DR (ICDR 0); referable no" in dataset
    assert dataset.endswith("[grade agrees, referable differs]")
    assert "over its threshold (p=0.30, threshold 0.28)" in note


def test_agreeing_outputs_need_no_note() -> None:
    lines = eye_lines("right", summary(2, True, 0.9), [], photo(2, True))
    assert len(lines) == 2 and lines[1].endswith("[grade agrees, referable agrees]")


def test_an_ungradable_eye_says_why_and_what_to_do() -> None:
    image = ImageGrading(
        image_id="i2",
        model=MODEL,
        quality=Quality(gradable=False, score=0.2, reasons=("low image quality",)),
    )
    eye = {"eye": "left", "gradable": False, "images": 1}
    ai, dataset = eye_lines("left", eye, [image], photo(4, True))
    assert "ungradable (low image quality): retake the photograph" in ai
    assert "if it stays ungradable, refer" in ai
    assert dataset.endswith("[not graded]")


def item(n: int, section: Section, urgency: Urgency) -> AdviceItem:
    return AdviceItem(
        rule_id=f"R{n}",
        section=section,
        kind="advice",
        urgency=urgency,
        text=f"item {n}",
        rule_text=f"item {n}",
    )


def test_advice_counts_by_urgency_and_shows_eye_items_first_among_equals() -> None:
    draft = AdviceDraft(
        patient_ref="Patient/1",
        as_of=date(2025, 1, 1),
        lang=Lang.EN,
        engine=Engine.RULES,
        knowledge_base_version="t",
        items=(
            item(0, Section.MEDICATION, Urgency.SOON),
            item(1, Section.DIET, Urgency.ROUTINE),
            item(2, Section.EYE, Urgency.SOON),
            item(3, Section.GLUCOSE, Urgency.URGENT),
        ),
        summary="s",
    )
    head, *shown = advice_lines(draft)
    assert head.endswith("4 items: 1 urgent, 2 soon, 1 routine")
    assert [s.strip() for s in shown] == [
        "- [urgent] item 3",
        "- [soon] item 2",
        "- [soon] item 0",
    ]
