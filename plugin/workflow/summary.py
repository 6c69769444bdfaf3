"""Compact, JSON-ready views of a screening: per-eye findings and advice headlines. Stored
with the screening record (what the CDS cards and the UI list need without re-reading
anything) and printed by the CLI and the demo. References and codes only: no names."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from models.advice import AdviceDraft
from models.advice.types import URGENCY_ORDER
from models.clinical_facts import ClinicalFacts
from models.clinical_facts_display import summary_line
from models.grader.result import ICDR_LABELS, LESION_KEYS, EyeGrading, PatientGrading
from plugin.workflow.types import GradingOutcome, ImageProblem, RetrievedImages

HEADLINE_ITEMS = 3
HEADLINE_CHARS = 110
LESION_NAMES = {
    "MA": "Microaneurysms",
    "HE": "Haemorrhages",
    "EX": "Hard exudates",
    "SE": "Cotton-wool spots",
}
"""Lesion keys (models.grader.result.LESION_KEYS) as a person names them."""


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


# --- text, for the CLI and the demo -----------------------------------------------------------


def facts_line(facts: ClinicalFacts, lang: str = "en") -> str:
    """One line: age/sex, diabetes and its duration, the key results with units, drug classes
    (the same words as the review page and `deepdr-fhir facts`: models.clinical_facts_display);
    "en" or "zh"."""
    return summary_line(facts, lang)


def lesion_names(keys: Iterable[str]) -> str:
    """'hard exudates, haemorrhages': present lesions in words, in the grader's key order."""
    order = {k: i for i, k in enumerate(LESION_KEYS)}
    ordered = sorted(keys, key=lambda k: order.get(k, len(order)))
    return ", ".join(LESION_NAMES[k].lower() if k in LESION_NAMES else k for k in ordered)


def eye_line(eye: dict[str, Any]) -> str:
    """`eye_summary` as text: grade, referable, DME, quality."""
    if not eye.get("gradable"):
        return "ungradable (retake the photograph)"
    parts = []
    if "dr_label" in eye:
        parts.append(f"{eye['dr_label']} (ICDR {eye['dr_grade']}, p={eye['dr_probability']:.2f})")
    if "referable" in eye:
        verdict = "yes" if eye["referable"] else "no"
        parts.append(f"referable {verdict} (p={eye['referable_probability']:.2f})")
    if "dme" in eye:
        parts.append(f"DME {'yes' if eye['dme'] else 'no'} (p={eye['dme_probability']:.2f})")
    if eye.get("lesions"):
        parts.append("lesions: " + lesion_names(eye["lesions"]))
    return "; ".join(parts) or "gradable"


def written_line(references: dict[str, str]) -> str:
    """'DiagnosticReport/1, CarePlan/2, Provenance/3 + 7 Observations, 1 Device'."""
    counts: dict[str, int] = {}
    named = []
    for ref in references.values():
        rtype = ref.split("/", 1)[0]
        if rtype in ("Observation", "Device"):
            counts[rtype] = counts.get(rtype, 0) + 1
        else:
            named.append(ref)
    extra = [f"{n} {t}{'s' if n > 1 else ''}" for t, n in sorted(counts.items())]
    return ", ".join(named) + (" + " + ", ".join(extra) if extra else "")
