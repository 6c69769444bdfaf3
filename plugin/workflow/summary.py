"""Compact, JSON-ready views of a screening: per-eye findings and advice headlines. Stored
with the screening record (what the CDS cards and the UI list need without re-reading
anything) and printed by the CLI and the demo. References and codes only: no names."""

from __future__ import annotations

from typing import Any

from models.advice import AdviceDraft
from models.advice.types import URGENCY_ORDER
from models.grader.result import ICDR_LABELS, EyeGrading, PatientGrading
from plugin.workflow.types import GradingOutcome, ImageProblem, RetrievedImages

HEADLINE_ITEMS = 3
HEADLINE_CHARS = 110


def eye_summary(eye: EyeGrading) -> dict[str, Any]:
    img = eye.decisive
    out: dict[str, Any] = {
        "eye": eye.laterality.value,
        "images": len(eye.images),
        "gradable": img is not None,
        "decisive_image": eye.decisive_image_id,
    }
    if img is None:
        return out
    if img.quality is not None:
        out["quality_score"] = round(img.quality.score, 3)
    if img.dr_grade is not None:
        grade = img.dr_grade.grade
        out["dr_grade"] = grade
        out["dr_label"] = ICDR_LABELS[grade]
        out["dr_probability"] = round(img.dr_grade.probabilities[grade], 3)
    if img.referable is not None:
        out["referable"] = img.referable.positive
        out["referable_probability"] = round(img.referable.probability, 3)
    if img.dme is not None:
        out["dme"] = img.dme.positive
        out["dme_probability"] = round(img.dme.probability, 3)
    out["lesions"] = sorted(k for k, f in img.lesions.items() if f.present)
    return out


def grading_summary(grading: PatientGrading | None) -> dict[str, Any]:
    if grading is None:
        return {"eyes": [], "referable_any": None, "model": None}
    eyes = [eye_summary(e) for e in grading.eyes]
    verdicts = [e["referable"] for e in eyes if "referable" in e]
    return {
        "eyes": eyes,
        "referable_any": any(verdicts) if verdicts else None,
        "model": grading.model.model_dump(),
    }


def advice_headlines(draft: AdviceDraft | None) -> list[str]:
    """The most urgent items first, shortened for a one-screen view."""
    if draft is None:
        return []
    items = sorted(
        enumerate(draft.items), key=lambda pair: (URGENCY_ORDER[pair[1].urgency], pair[0])
    )
    out = []
    for _, item in items[:HEADLINE_ITEMS]:
        text = " ".join(item.text.split())
        short = text if len(text) <= HEADLINE_CHARS else text[: HEADLINE_CHARS - 1] + "…"
        flag = "" if item.urgency.value == "routine" else f"[{item.urgency.value}] "
        out.append(flag + short)
    return out


def screening_summary(
    images: RetrievedImages,
    grading: GradingOutcome | None,
    advice: AdviceDraft | None,
    problems: tuple[ImageProblem, ...],
) -> dict[str, Any]:
    summary = grading_summary(grading.grading if grading else None)
    summary["images"] = {
        "retrieved": len(images.images),
        "graded": grading.graded if grading else 0,
        "cache_hits": grading.cache_hits if grading else 0,
        "problems": len(problems),
        "skipped": len(images.skipped),
    }
    summary["advice"] = (
        {
            "items": len(advice.items),
            "urgent": sum(1 for i in advice.items if i.urgency.value == "urgent"),
            "lang": advice.lang.value,
            "engine": advice.engine.value,
            "headlines": advice_headlines(advice),
        }
        if advice is not None
        else None
    )
    return summary
