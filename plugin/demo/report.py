"""What the demo prints: a compact table per patient (facts, per-eye grade against the
photograph's dataset label, referable, advice headlines, resources written) and a footer
with the figures of the run. References and codes only; the demo's people are synthetic."""

from __future__ import annotations

import json
import statistics
from typing import TYPE_CHECKING, Any

from plugin.demo.photos import ATTRIBUTION, DATA_DIR_ENV, ICDR_NAMES, Photo, PhotoLibrary, data_dir
from plugin.workflow.summary import advice_headlines, eye_line, facts_line, written_line

if TYPE_CHECKING:
    from plugin.demo.run import DemoResult, DemoRun

ROUTES = {
    "DICOMweb": "via DICOMweb (ImagingStudy + Endpoint, Orthanc)",
    "Media": "as Media attachments",
    "DocumentReference": "as DocumentReference attachments",
    "none": "none",
}


def _label(photo: Photo | None) -> str:
    if photo is None:
        return "no photograph"
    mac = {True: ", maculopathy", False: "", None: ""}[photo.maculopathy]
    return f"ICDR {photo.dr_grade} ({ICDR_NAMES[photo.dr_grade]}){mac}"


def _yes(value: object) -> str:
    return "yes" if value is True else "no" if value is False else "-"


def eye_rows(r: DemoResult) -> list[tuple[str, str, str, str]]:
    """(eye, graded, label, referable AI / label) per eye with a photograph or a grading."""
    photos = {p.eye: p for p in r.demo.photos}
    eyes = r.screening.stored.summary["eyes"] if r.screening else []
    by_eye = {e["eye"]: e for e in eyes}
    fetched: dict[str, int] = {}
    for img in r.retrieved_only.images if r.retrieved_only else ():
        fetched[img.laterality.value] = fetched.get(img.laterality.value, 0) + 1
    rows = []
    for side in ("right", "left", "unknown"):
        eye, photo = by_eye.get(side), photos.get(side)
        if eye is None and photo is None:
            continue
        graded = eye_line(eye) if eye is not None else "not graded"
        if eye is None and side in fetched:
            graded = f"not graded ({fetched[side]} image retrieved)"
        ai = _yes(eye.get("referable")) if eye is not None else "-"
        truth = _yes(photo.referable) if photo is not None else "-"
        rows.append((side, graded, _label(photo), f"{ai} / {truth}"))
    return rows


def as_text(i: int, n: int, r: DemoResult) -> str:
    s = r.screening
    status = s.status if s else f"failed: {r.error}"
    lines = [
        f"\n=== {i}/{n} {r.demo.scenario.key}: {r.demo.scenario.title} ===",
        f"  Patient/{r.patient_id}  |  photographs {ROUTES[r.route]}  |  screening {status}",
        f"  Facts      {facts_line(r.facts)}",
    ]
    rows = eye_rows(r)
    if rows:
        lines.append(f"  {'Eye':<10} {'Graded (AI)':<56} {'Photo label (dataset)':<36} Referable")
        lines += [f"  {e:<10} {g:<56} {lab:<36} {ref}" for e, g, lab, ref in rows]
    if r.retrieved_only is not None:
        for p in r.retrieved_only.problems:
            lines.append(f"  Problem    {p.source_ref} [{p.stage}, {p.code}] {p.reason}")
    if s is not None:
        for p in s.problems:
            lines.append(f"  Problem    {p.source_ref} [{p.stage}, {p.code}] {p.reason}")
        if s.referral is not None:
            lines.append(f"  Referral   suggested ({s.referral.priority}), not written")
        if s.advice is not None:
            urgent = sum(1 for item in s.advice.items if item.urgency.value == "urgent")
            lines.append(f"  Advice     {len(s.advice.items)} items, {urgent} urgent")
            lines += [f"             - {h}" for h in advice_headlines(s.advice)]
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
        lines.append(
            f"Grader {model.name} {model.version}: ICDR grade equals the photograph's dataset "
            f"label for {same}/{graded} eyes, referable verdict for {ref_same}/{ref_both} "
            "(a handful of demo photographs: not an evaluation)."
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
