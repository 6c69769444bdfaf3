"""What the demo prints, for a clinician's eye: per patient the facts in words (units, drug
classes), per eye what the grader said and below it the photograph's dataset label with
whether they agree (a note when the grade and the referable output point different ways;
reasons and what to do for an ungradable eye), the referral, the advice by urgency with the
first items to read, the resources written; then a footer with the figures of the run.
References and codes only; the demo's people are synthetic."""

from __future__ import annotations

import json
import statistics
from typing import TYPE_CHECKING, Any

from models.advice import AdviceDraft
from models.advice.types import URGENCY_ORDER, Section
from models.grader.result import ImageGrading
from plugin.demo.photos import ATTRIBUTION, DATA_DIR_ENV, ICDR_NAMES, Photo, PhotoLibrary, data_dir
from plugin.workflow.summary import facts_line, lesion_names, written_line

if TYPE_CHECKING:
    from plugin.demo.run import DemoResult, DemoRun

ROUTES = {
    "DICOMweb": "via DICOMweb (ImagingStudy + Endpoint, Orthanc)",
    "Media": "as Media attachments",
    "DocumentReference": "as DocumentReference attachments",
    "none": "none",
}
HEADLINES = 3
HEADLINE_CHARS = 110
INDENT = " " * 13


def _yes(value: object) -> str:
    return "yes" if value is True else "no" if value is False else "-"


def _label(photo: Photo | None) -> str:
    if photo is None:
        return "no photograph"
    mac = {True: ", maculopathy", False: "", None: ""}[photo.maculopathy]
    return (
        f"{ICDR_NAMES[photo.dr_grade]} (ICDR {photo.dr_grade}){mac}; "
        f"referable {_yes(photo.referable)}"
    )


def _ai(eye: dict[str, Any], images: list[ImageGrading]) -> str:
    """What the grader said about one eye, in words, with the model's probabilities."""
    if not eye.get("gradable"):
        reasons = sorted({r for img in images if img.quality for r in img.quality.reasons})
        why = f" ({'; '.join(reasons)})" if reasons else ""
        return (
            f"ungradable{why}: retake the photograph; if it stays ungradable, refer "
            "(advanced disease can look like a poor photograph)"
        )
    parts = []
    if "dr_label" in eye:
        parts.append(f"{eye['dr_label']} (ICDR {eye['dr_grade']}, p={eye['dr_probability']:.2f})")
    if "referable" in eye:
        parts.append(f"referable {_yes(eye['referable'])} (p={eye['referable_probability']:.2f})")
    if "dme" in eye:
        parts.append(f"DME {_yes(eye['dme'])} (p={eye['dme_probability']:.2f})")
    lesions = eye.get("lesions") or []
    parts.append("lesions: " + (lesion_names(lesions) if lesions else "none above threshold"))
    return "; ".join(parts)


def _agreement(eye: dict[str, Any] | None, photo: Photo | None) -> str:
    if photo is None or eye is None:
        return ""
    if not eye.get("gradable"):
        return "  [not graded]"
    grade = "grade agrees" if eye.get("dr_grade") == photo.dr_grade else "grade differs"
    ref = "referable agrees" if eye.get("referable") == photo.referable else "referable differs"
    return f"  [{grade}, {ref}]"


def _disagreement(eye: dict[str, Any], images: list[ImageGrading]) -> str | None:
    """A note when the grade and the referable output point different ways (each head has
    its own threshold; the referral follows the referable output)."""
    if "dr_grade" not in eye or "referable" not in eye:
        return None
    referable_by_grade = eye["dr_grade"] >= 2 or bool(eye.get("dme"))
    if referable_by_grade == eye["referable"]:
        return None
    decisive = next((i for i in images if i.image_id == eye.get("decisive_image")), None)
    cut = decisive.referable.threshold if decisive and decisive.referable else None
    at = f" (p={eye['referable_probability']:.2f}, threshold {cut:.2f})" if cut is not None else ""
    verdict = "over" if eye["referable"] else "under"
    return (
        f"the grade alone would {'not ' if eye['referable'] else ''}call this referable, "
        f"but the referable output is {verdict} its threshold{at}: the referral follows it"
    )


def eye_lines(
    side: str, eye: dict[str, Any] | None, images: list[ImageGrading], photo: Photo | None
) -> list[str]:
    """Two or three lines for one eye: what the AI said, what the dataset says, a note."""
    head = f"  {side.capitalize() + ' eye':<11}"
    said = _ai(eye, images) if eye is not None else "not graded"
    lines = [f"{head}AI       {said}"]
    if photo is not None:
        lines.append(f"{INDENT}dataset  {_label(photo)}{_agreement(eye, photo)}")
    note = _disagreement(eye, images) if eye is not None else None
    if note:
        lines.append(f"{INDENT}note     {note}")
    return lines


def advice_lines(draft: AdviceDraft) -> list[str]:
    """The count by urgency, then the first items a clinician should read: the most urgent,
    eye follow-up first among equals (this is an eye-screening result)."""
    items = draft.items
    counts = {u: sum(1 for i in items if i.urgency.value == u) for u in ("urgent", "soon")}
    routine = len(items) - counts["urgent"] - counts["soon"]
    lines = [
        f"  Advice     {len(items)} items: {counts['urgent']} urgent, {counts['soon']} soon, "
        f"{routine} routine"
    ]
    order = sorted(
        range(len(items)),
        key=lambda n: (URGENCY_ORDER[items[n].urgency], items[n].section != Section.EYE, n),
    )
    for n in order[:HEADLINES]:
        item = items[n]
        text = " ".join(item.text.split())
        short = text if len(text) <= HEADLINE_CHARS else text[: HEADLINE_CHARS - 1] + "…"
        lines.append(f"{INDENT}- [{item.urgency.value}] {short}")
    return lines


def as_text(i: int, n: int, r: DemoResult) -> str:
    s = r.screening
    status = s.status if s else f"failed: {r.error}"
    lines = [
        f"\n=== {i}/{n} {r.demo.scenario.key}: {r.demo.scenario.title} ===",
        f"  Patient/{r.patient_id}  |  photographs {ROUTES[r.route]}  |  screening {status}",
        f"  Facts      {facts_line(r.facts)}",
    ]
    photos = {p.eye: p for p in r.demo.photos}
    eyes = {e["eye"]: e for e in (s.stored.summary["eyes"] if s else [])}
    graded = s.grading.grading if s and s.grading else None
    gradings = {e.laterality.value: list(e.images) for e in (graded.eyes if graded else ())}
    fetched = {
        img.laterality.value for img in (r.retrieved_only.images if r.retrieved_only else ())
    }
    for side in ("right", "left", "unknown"):
        if side in eyes or side in photos:
            eye_out = eye_lines(side, eyes.get(side), gradings.get(side, []), photos.get(side))
            if side not in eyes and side in fetched:
                eye_out[0] += " (image retrieved; no grader)"
            lines += eye_out
    problems = (r.retrieved_only.problems if r.retrieved_only else ()) + (s.problems if s else ())
    for p in problems:
        lines.append(f"  Problem    {p.source_ref} [{p.stage}, {p.code}] {p.reason}")
    if s is not None:
        if s.referral is not None:
            lines.append(f"  Referral   suggested ({s.referral.priority}), not written")
        if s.advice is not None:
            lines += advice_lines(s.advice)
        if s.written is not None:
            lines.append(f"  Written    {written_line(s.written.references)} (preliminary / draft)")
    return "\n".join(lines)


def agreement(run: DemoRun) -> tuple[int, int, int, int]:
    """(grade equal, eyes graded with a label, referable equal, eyes with both verdicts)."""
    same = graded = ref_same = ref_both = 0
    for r in run.results:
        photos = {p.eye: p for p in r.demo.photos}
        eyes = r.screening.stored.summary["eyes"] if r.screening else []
        for eye in eyes:
            photo = photos.get(eye["eye"])
            if photo is None or "dr_grade" not in eye:
                continue
            graded += 1
            same += int(eye["dr_grade"] == photo.dr_grade)
            if "referable" in eye:
                ref_both += 1
                ref_same += int(eye["referable"] == photo.referable)
    return same, graded, ref_same, ref_both


def footer(library: PhotoLibrary | None, run: DemoRun) -> str:
    results = run.results
    loaded = sum(len(r.demo.bundle["entry"]) for r in results)
    routes: dict[str, int] = {}
    for r in results:
        routes[r.route] = routes.get(r.route, 0) + 1
    shown = ", ".join(f"{n} {route}" for route, n in sorted(routes.items()) if route != "none")
    lines = [
        f"\nLoaded {len(results)} patients ({loaded} resources); photographs: {shown or 'none'}.",
        *run.notes,
    ]
    if run.grader is not None:
        same, graded, ref_same, ref_both = agreement(run)
        model = run.grader.model
        ungradable = sum(
            1
            for r in run.results
            for e in (r.screening.stored.summary["eyes"] if r.screening else [])
            if not e.get("gradable")
        )
        lines.append(
            f"Grader {model.name} {model.version}: the ICDR grade equals the photograph's "
            f"dataset label for {same} of {graded} graded eyes, the referable verdict for "
            f"{ref_same} of {ref_both}"
            + (
                f" ({ungradable} eye{'s' if ungradable > 1 else ''} ungradable)"
                if ungradable
                else ""
            )
            + ". A handful of demo photographs, not an evaluation: see the bundle's MODEL_CARD.md."
        )
        lines.append(
            "p = the model's probability, not a calibrated clinical risk; each output has its "
            "own threshold (metadata.json)."
        )
    if run.rerun is not None and run.rerun.grading is not None:
        g, w = run.rerun.grading, run.rerun.written
        lines.append(
            f"Screened {run.rerun.patient_ref} again: {g.cache_hits} of {g.cache_hits + g.graded} "
            f"gradings from the cache, {w.created_count if w else 0} new resources written "
            "(every write is a conditional create)."
        )
    if library is None:
        lines.append(
            f"No fundus photographs attached: the shared data was not found at {data_dir()} "
            f"(set {DATA_DIR_ENV} to the folder that holds fundus/srahim-dr600)."
        )
    else:
        lines.append(ATTRIBUTION)
    stages = stage_medians(run)
    if stages:
        shown = ", ".join(f"{stage} {ms:.0f}" for stage, ms in stages.items())
        lines.append(f"Median ms per screening stage: {shown}.")
    lines.append(f"Done in {run.seconds:.1f} s.")
    return "\n".join(lines)


def stage_medians(run: DemoRun) -> dict[str, float]:
    """Median milliseconds of each workflow stage over the patients screened."""
    samples: dict[str, list[float]] = {}
    for r in run.results:
        for stage, ms in (r.screening.timings_ms if r.screening else {}).items():
            samples.setdefault(stage, []).append(ms)
    return {stage: statistics.median(values) for stage, values in samples.items()}


def as_json(run: DemoRun) -> str:
    return json.dumps([_result_json(r) for r in run.results], ensure_ascii=False, indent=2)


def _result_json(r: DemoResult) -> dict[str, Any]:
    s = r.screening
    return {
        "scenario": r.demo.scenario.key,
        "patient": f"Patient/{r.patient_id}",
        "route": r.route,
        "facts": r.facts.model_dump(mode="json"),
        "photos": [
            {
                "image": p.name,
                "eye": p.eye,
                "dr_grade": p.dr_grade,
                "maculopathy": p.maculopathy,
                "referable": p.referable,
            }
            for p in r.demo.photos
        ],
        "screening": None
        if s is None
        else {
            "id": s.screening_id,
            "status": s.status,
            "summary": s.stored.summary,
            "problems": [p.model_dump() for p in s.problems],
            "written": dict(s.written.references) if s.written else {},
        },
        "error": r.error,
    }
