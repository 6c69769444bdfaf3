"""The DiagnosticReport that groups one screening's per-eye Observations."""

from __future__ import annotations

from fhir_mappers import codes
from fhir_mappers.outbound.common import (
    AI_REPORT_STATUS,
    JSON,
    Built,
    ai_meta,
    concept,
    deepdr_concept,
    instant,
)
from fhir_mappers.outbound.identifiers import full_url, identifier
from fhir_mappers.outbound.inputs import ScreeningContext
from fhir_mappers.outbound.observations import LESION_CODES
from models.grader.result import ICDR_LABELS, EyeGrading, PatientGrading

_EYE_NAMES = {"right": "Right eye", "left": "Left eye", "unknown": "Eye (side not recorded)"}


def diagnostic_report(
    grading: PatientGrading, ctx: ScreeningContext, key: str, observations: list[Built]
) -> Built:
    ident = identifier("DiagnosticReport", key)
    report: JSON = {
        "resourceType": "DiagnosticReport",
        "meta": ai_meta(),
        "identifier": [ident],
        "status": AI_REPORT_STATUS,
        # The HL7 Ophthalmology IG fixes DiagnosticReport.category to SNOMED Ophthalmology.
        "category": [concept(codes.SNOMED, codes.SNOMED_OPHTHALMOLOGY)],
        "code": concept(codes.LOINC, codes.LOINC_RETINAL_SCREENING_REPORT),
        "subject": {"reference": ctx.patient_ref},
        "effectiveDateTime": instant(ctx.effective, "effective"),
        "issued": instant(ctx.issued, "issued"),
        "result": [{"reference": b.full_url} for b in observations],
        "conclusion": conclusion(grading),
        "conclusionCode": [deepdr_concept(c) for c in conclusion_codes(grading)],
    }
    if ctx.encounter_ref:
        report["encounter"] = {"reference": ctx.encounter_ref}
    sources = _image_sources(grading, ctx)
    studies = [r for r in sources if r.startswith("ImagingStudy/")]
    media = [r for r in sources if r.startswith("Media/")]
    if studies:
        report["imagingStudy"] = [{"reference": r} for r in studies]
    if media:
        report["media"] = [{"link": {"reference": r}} for r in media]
    return Built("diagnostic-report", report, full_url(ident))


def _image_sources(grading: PatientGrading, ctx: ScreeningContext) -> list[str]:
    refs: list[str] = []
    for eye in grading.eyes:
        for img in eye.images:
            ref = ctx.image_sources.get(img.image_id)
            if ref and ref not in refs:
                refs.append(ref)
    return refs


def conclusion_codes(grading: PatientGrading) -> list[str]:
    out = []
    gradable = [e for e in grading.eyes if e.gradable]
    referable = [e for e in gradable if _referable(e) is True]
    if referable:
        out.append("referable-dr-suspected")
    elif gradable and all(_referable(e) is False for e in gradable):
        out.append("no-referable-dr")
    if any(not e.gradable for e in grading.eyes):
        out.append("ungradable-eye")
    return out


def _referable(eye: EyeGrading) -> bool | None:
    img = eye.decisive
    if img is None or img.referable is None:
        return None
    return img.referable.positive


def conclusion(grading: PatientGrading) -> str:
    """One line per eye, then who produced it; deterministic, no patient data."""
    lines = []
    for eye in sorted(grading.eyes, key=lambda e: ("right", "left", "unknown").index(e.laterality)):
        lines.append(f"{_EYE_NAMES[eye.laterality.value]}: {_eye_summary(eye)}.")
    model = grading.model
    lines.append(
        f"AI-generated preliminary result ({model.name} {model.version}); "
        "requires review and sign-off by a clinician."
    )
    return " ".join(lines)


def _lesion_name(key: str) -> str:
    code = LESION_CODES.get(key)
    return codes.DEEPDR_OUTBOUND[code].lower() if code else key


def _eye_summary(eye: EyeGrading) -> str:
    img = eye.decisive
    if img is None:
        return "ungradable (image quality insufficient); retake the photograph"
    parts = []
    if img.dr_grade is not None:
        parts.append(ICDR_LABELS[img.dr_grade.grade])
    if img.referable is not None:
        verdict = "suspected" if img.referable.positive else "not suspected"
        parts.append(f"referable DR {verdict} (p={img.referable.probability:.2f})")
    if img.dme is not None:
        verdict = "suspected" if img.dme.positive else "not suspected"
        parts.append(f"macular edema {verdict} (p={img.dme.probability:.2f})")
    present = [_lesion_name(k) for k, f in sorted(img.lesions.items()) if f.present]
    if present:
        parts.append("lesions: " + ", ".join(present))
    return "; ".join(parts) if parts else "gradable; this model reports no DR findings"
