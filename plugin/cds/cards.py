"""Our cards, from pure builders: `build_cards(assessment, context) -> list[Card]`.

Cards (at most MAX_CARDS, most urgent first; none when nothing is known or due):
- result: per-eye ICDR grade and referable status of the current photographs. Indicator:
  critical for proliferative DR or urgent referable DR (severe NPDR or worse, or suspected
  macular edema), warning for referable DR, info otherwise. Referable DR adds a suggestion
  to create an ophthalmology referral (a ServiceRequest the clinician signs: status draft,
  intent order, as CDS Hooks' draft orders are) with override reasons.
- retake: an eye whose photographs are all ungradable; suggests repeat photography.
- pending: photographs are being graded in the background.
- unavailable: photographs that could not be read or graded (and why), or no grader.
- due: a diabetic patient with no retinal exam in 12 months; suggests ordering one.
Every card has a stable uuid (uuid5 of the patient, the images' hashes, the model version
and the card kind), a source naming the model version, and, when the SMART app is
configured, a link to review the photographs. No systemActions: nothing is written
without a clinician choosing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from cds_hooks import cards as cds
from cds_hooks.models import Card, Coding, Indicator, Link, Source, Suggestion
from fhir_mappers import codes as fhir_codes
from models.grader.result import ICDR_LABELS, EyeGrading, ImageGrading, Laterality, ModelInfo
from plugin.cds import codes
from plugin.cds.assess import Assessment
from plugin.cds.grading import ImageFailure, ImageState

MAX_CARDS = 3
AI_DISCLAIMER = (
    "AI-generated, preliminary: not a diagnosis until a clinician reviews the photographs. "
    "Reference model for research and demonstration, not for clinical use."
)
_EYE = {Laterality.RIGHT: "right eye", Laterality.LEFT: "left eye", Laterality.UNKNOWN: "eye"}
_SHORT = ("no DR", "mild NPDR", "moderate NPDR", "severe NPDR", "PDR")
_RANK: dict[Indicator, int] = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class CardContext:
    service_id: str
    source_label: str = "DeepDR-FHIR"
    source_url: str | None = None
    encounter_ref: str | None = None


# --- building blocks ------------------------------------------------------------------------


def card_source(ctx: CardContext, topic: str, model: ModelInfo | None) -> Source:
    label = ctx.source_label
    if model is not None:
        label = f"{label} · {model.name} {model.version}"
    return cds.source(
        label, url=ctx.source_url, topic=cds.coding(codes.CDS_TOPIC, topic, codes.TOPICS[topic])
    )


def card_key(assessment: Assessment, kind: str, *extra: str) -> str:
    images = assessment.images
    model = images.model
    parts = [
        assessment.patient_ref,
        ",".join(images.image_hashes),
        f"{model.name}@{model.version}" if model else "",
        kind,
        *extra,
    ]
    return "|".join(parts)


def _links(assessment: Assessment, label: str) -> list[Link]:
    smart = assessment.smart
    if smart is None:
        return []
    return [cds.smart_link(label, smart.url, smart.app_context)]


def _service_request(
    patient_ref: str,
    code: tuple[str, str],
    text: str,
    *,
    encounter_ref: str | None,
    priority: str = "routine",
    eyes: Sequence[Laterality] = (),
    reason: str | None = None,
    performer_ophthalmology: bool = False,
) -> dict[str, Any]:
    """A draft order the clinician signs if they accept the suggestion."""
    req: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "priority": priority,
        "code": {
            "coding": [{"system": codes.SNOMED, "code": code[0], "display": code[1]}],
            "text": text,
        },
        "subject": {"reference": patient_ref},
    }
    if encounter_ref:
        req["encounter"] = {"reference": encounter_ref}
    if performer_ophthalmology:
        system, (c, d) = codes.SNOMED, codes.OPHTHALMOLOGY
        req["performerType"] = {"coding": [{"system": system, "code": c, "display": d}]}
    if reason:
        req["reasonCode"] = [{"text": reason}]
    sites = [fhir_codes.SNOMED_EYE_SITE[e.value] for e in eyes if e != Laterality.UNKNOWN]
    if sites:
        req["bodySite"] = [
            {"coding": [{"system": codes.SNOMED, "code": c, "display": d}]}
            for c, d in dict.fromkeys(sites)
        ]
    req["note"] = [{"text": "Suggested by DeepDR-FHIR (AI) in a CDS Hooks card."}]
    return req


def _reasons(pairs: Sequence[tuple[str, str]]) -> list[Coding]:
    return [cds.coding(codes.NON_ADHERENCE_REASON, c, d) for c, d in pairs]


def _finding(img: ImageGrading) -> str:
    parts = [_SHORT[img.dr_grade.grade]] if img.dr_grade is not None else []
    if img.referable is not None and img.referable.positive:
        parts.append("referable")
    if img.dme is not None and img.dme.positive:
        parts.append("macular edema suspected")
    return ", ".join(parts) or "graded"


def _eye_line(eye: EyeGrading) -> str:
    img = eye.decisive
    where = _EYE[eye.laterality].capitalize()
    if img is None:
        return f"- {where}: ungradable ({len(eye.images)} photo(s))"
    out = [f"- {where}: **{ICDR_LABELS[img.dr_grade.grade]}**" if img.dr_grade else f"- {where}:"]
    if img.referable is not None:
        verdict = "referable DR" if img.referable.positive else "not referable"
        out.append(f"{verdict} (p={img.referable.probability:.2f})")
    if img.dme is not None:
        out.append(f"macular edema {'suspected' if img.dme.positive else 'not suspected'}")
    if img.quality is not None:
        out.append(f"quality {img.quality.score:.2f}")
    return "; ".join(out)


# --- the cards ------------------------------------------------------------------------------


def referable_eyes(images: ImageState) -> list[tuple[Laterality, ImageGrading]]:
    if images.grading is None:
        return []
    out = []
    for eye in images.grading.eyes:
        img = eye.decisive
        if img is not None and img.referable is not None and img.referable.positive:
            out.append((eye.laterality, img))
    return out


def result_indicator(images: ImageState) -> Indicator:
    referable = referable_eyes(images)
    if not referable:
        return "info"
    urgent = any(
        (img.dr_grade is not None and img.dr_grade.grade >= 3)
        or (img.dme is not None and img.dme.positive)
        for _, img in referable
    )
    return "critical" if urgent else "warning"


def referral_suggestion(
    assessment: Assessment, ctx: CardContext, *, recommended: bool = True
) -> Suggestion:
    referable = referable_eyes(assessment.images)
    urgent = result_indicator(assessment.images) == "critical"
    findings = "; ".join(f"{_EYE[lat]}: {_finding(img)}" for lat, img in referable)
    resource = _service_request(
        assessment.patient_ref,
        codes.PATIENT_REFERRAL,
        "Referral to ophthalmology",
        encounter_ref=ctx.encounter_ref,
        priority="urgent" if urgent else "routine",
        eyes=[lat for lat, _ in referable],
        reason=f"Referable diabetic retinopathy suspected by AI screening ({findings}).",
        performer_ophthalmology=True,
    )
    label = "Refer to ophthalmology" + (" (urgent)" if urgent else "")
    return cds.suggestion(
        card_key(assessment, "referral"),
        label,
        [cds.create_action(f"Create a draft {label.lower()}", resource)],
        is_recommended=recommended,
    )


def result_card(assessment: Assessment, ctx: CardContext) -> Card | None:
    images = assessment.images
    grading = images.grading
    if grading is None or not any(e.gradable for e in grading.eyes):
        return None
    referable = referable_eyes(images)
    indicator = result_indicator(images)
    graded = [e for e in grading.eyes if e.decisive is not None]
    if referable:
        worst = "; ".join(f"{_EYE[lat]}: {_finding(img)}" for lat, img in referable)
        summary = f"AI retinal screening: referable DR suspected ({worst})"
    else:
        eyes = ", ".join(
            f"{_EYE[e.laterality]}: {_SHORT[e.decisive.dr_grade.grade]}"
            for e in graded
            if e.decisive is not None and e.decisive.dr_grade is not None
        )
        summary = "AI retinal screening: no referable DR" + (f" ({eyes})" if eyes else "")
    when = f"Photographs of {images.acquired.isoformat()}. " if images.acquired else ""
    detail = "\n".join([*(_eye_line(e) for e in grading.eyes), "", when + AI_DISCLAIMER])
    suggestions = [referral_suggestion(assessment, ctx)] if referable else []
    return cds.card(
        card_key(assessment, "result"),
        summary,
        indicator,
        card_source(ctx, "dr-result", grading.model),
        detail=detail,
        suggestions=suggestions,
        override_reasons=_reasons(codes.REFERRAL_OVERRIDE_REASONS) if referable else (),
        links=_links(assessment, "Review photographs and AI findings"),
    )


def retake_card(assessment: Assessment, ctx: CardContext) -> Card | None:
    grading = assessment.images.grading
    if grading is None:
        return None
    bad = [e for e in grading.eyes if not e.gradable]
    if not bad:
        return None
    where = " and ".join(_EYE[e.laterality] for e in bad)
    reasons = sorted(
        {r for e in bad for i in e.images if i.quality is not None for r in i.quality.reasons}
    )
    detail = f"Photographs of the {where} are not gradable by the AI model"
    detail += f" ({', '.join(reasons)})." if reasons else "."
    resource = _service_request(
        assessment.patient_ref,
        codes.FUNDUS_PHOTOGRAPHY,
        "Repeat fundus photography (image quality insufficient)",
        encounter_ref=ctx.encounter_ref,
        eyes=[e.laterality for e in bad],
    )
    retake = cds.suggestion(
        card_key(assessment, "retake"),
        f"Order repeat fundus photography ({where})",
        [cds.create_action("Create a draft order for repeat fundus photography", resource)],
        is_recommended=True,
    )
    return cds.card(
        card_key(assessment, "retake", where),
        f"Fundus photo quality insufficient ({where}): retake the photograph",
        "warning",
        card_source(ctx, "dr-image-quality", grading.model),
        detail=f"{detail}\n\n{AI_DISCLAIMER}",
        suggestions=[retake],
        override_reasons=_reasons(codes.SCREENING_OVERRIDE_REASONS),
        links=_links(assessment, "Review photographs"),
    )


def pending_card(assessment: Assessment, ctx: CardContext) -> Card | None:
    images = assessment.images
    pending = images.pending
    if pending is None or pending.status not in ("queued", "running") or images.waiting == 0:
        return None
    n = images.waiting
    return cds.card(
        card_key(assessment, "pending"),
        f"AI grading of {n} new fundus photo{'s' if n != 1 else ''} in progress",
        "info",
        card_source(ctx, "dr-grading-pending", None),
        detail="The result will be shown the next time this chart is opened.",
        links=_links(assessment, "Open DeepDR-FHIR"),
    )


def _failure_text(failures: Sequence[ImageFailure]) -> str:
    counts: dict[str, int] = {}
    for f in failures:
        counts[f.code] = counts.get(f.code, 0) + 1
    return ", ".join(f"{code} ({n})" for code, n in sorted(counts.items()))


def unavailable_card(assessment: Assessment, ctx: CardContext) -> Card | None:
    images = assessment.images
    if images.grader_unavailable:
        return cds.card(
            card_key(assessment, "no-grader"),
            "AI grading of fundus photos is unavailable right now",
            "info",
            card_source(ctx, "dr-images-unavailable", None),
            detail="The grading model could not be loaded or run; ask the DeepDR-FHIR "
            "administrator to check the grader bundle.",
        )
    # Failed, or finished without grading these photographs (another model, a record that
    # changed): either way no result is coming for them.
    failed_job = (
        images.pending is not None
        and images.pending.status in ("failed", "succeeded")
        and images.waiting > 0
    )
    failures = list(images.failures)
    if not failures and not failed_job:
        return None
    lines = [f"- {f.source_ref}: {f.code}: {f.reason}" for f in failures[:6]]
    if failed_job:
        lines.append(f"- background grading of {images.waiting} photo(s) failed")
    n = len(failures) + (images.waiting if failed_job else 0)
    why = _failure_text(failures) if failures else "grading failed"
    return cds.card(
        card_key(assessment, "unavailable", why),
        f"{n} fundus photo{'s' if n != 1 else ''} could not be used for AI grading: {why}",
        "info",
        card_source(ctx, "dr-images-unavailable", images.model),
        detail="\n".join(lines),
        links=_links(assessment, "Open DeepDR-FHIR"),
    )


def due_card(assessment: Assessment, ctx: CardContext, today: date) -> Card | None:
    due = assessment.due
    if due is None:
        return None
    last = (
        f"last retinal exam on record {due.last_exam.isoformat()}"
        if due.last_exam
        else "no retinal exam on record"
    )
    exam = _service_request(
        assessment.patient_ref,
        codes.DIABETIC_RETINAL_EXAM,
        "Diabetic retinopathy screening",
        encounter_ref=ctx.encounter_ref,
        reason="Diabetes; no retinal exam in the last 12 months.",
    )
    photo = _service_request(
        assessment.patient_ref,
        codes.FUNDUS_PHOTOGRAPHY,
        "Fundus photography for AI diabetic retinopathy screening",
        encounter_ref=ctx.encounter_ref,
        eyes=(Laterality.RIGHT, Laterality.LEFT),
        reason="Diabetes; no retinal exam in the last 12 months.",
    )
    suggestions = [
        cds.suggestion(
            card_key(assessment, "due-exam", today.isoformat()),
            "Order diabetic retinal exam",
            [cds.create_action("Create a draft order: diabetic retinal eye exam", exam)],
            is_recommended=True,
        ),
        cds.suggestion(
            card_key(assessment, "due-photo", today.isoformat()),
            "Order fundus photography (both eyes)",
            [cds.create_action("Create a draft order: fundus photography", photo)],
            is_recommended=False,
        ),
    ]
    return cds.card(
        # Keyed by the day: a card dismissed today may come back on another day.
        card_key(assessment, "due", today.isoformat()),
        f"Diabetic retinopathy screening due: {last}",
        "info",
        card_source(ctx, "dr-screening-due", None),
        detail="ADA Standards of Care: retinal screening at least yearly in diabetes "
        "(every 1-2 years only after normal exams, at the eye specialist's discretion).",
        suggestions=suggestions,
        override_reasons=_reasons(codes.SCREENING_OVERRIDE_REASONS),
        links=_links(assessment, "Open DeepDR-FHIR"),
    )


def build_cards(assessment: Assessment, ctx: CardContext, today: date) -> list[Card]:
    """The patient-view cards, most urgent first, at most MAX_CARDS."""
    found = [
        result_card(assessment, ctx),
        retake_card(assessment, ctx),
        pending_card(assessment, ctx),
        unavailable_card(assessment, ctx),
        due_card(assessment, ctx, today),
    ]
    cards = [c for c in found if c is not None]
    cards.sort(key=lambda c: _RANK[c.indicator])  # stable: builder order within a level
    return cards[:MAX_CARDS]
