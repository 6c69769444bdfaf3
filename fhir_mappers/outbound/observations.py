"""Per-eye Observations from a grading result.

Per eye (left / right; an image of unknown side gets our own eye-unspecified codes):
  image quality (ours: gradable / ungradable, with the decisive image's score),
  DR severity (LOINC 71490-7 / 71491-5, value = LL2117-1 answer, ICDR probabilities as
  components), macular edema (71488-1 / 71489-9, Present / Absent), referable DR (ours),
  retinal lesions (ours; one component per lesion: probability + POS/NEG).
An ungradable eye gets a DR severity Observation with no value and a dataAbsentReason
(FHIR: a value that should exist but cannot be given), so the EHR sees that screening was
attempted. A head the model bundle does not have yields no Observation at all.
"""

from __future__ import annotations

from fhir_mappers import codes
from fhir_mappers.outbound.common import (
    AI_NOTE,
    AI_OBSERVATION_STATUS,
    JSON,
    Built,
    ai_meta,
    concept,
    deepdr_concept,
    instant,
    interpretation,
    present_absent,
    probability_quantity,
)
from fhir_mappers.outbound.errors import OutboundInputError
from fhir_mappers.outbound.identifiers import full_url, identifier
from fhir_mappers.outbound.inputs import ScreeningContext
from models.grader.result import (
    ICDR_LABELS,
    BinaryFinding,
    EyeGrading,
    ImageGrading,
    ModelInfo,
    PatientGrading,
)

LESION_CODES: dict[str, str] = {
    "MA": "lesion-MA",
    "HE": "lesion-HE",
    "EX": "lesion-EX",
    "SE": "lesion-SE",
}


def check_grading(grading: PatientGrading) -> None:
    """Consistency the pydantic types cannot express; raises OutboundInputError."""
    if not grading.eyes:
        raise OutboundInputError("grading has no eyes")
    seen: set[str] = set()
    for eye in grading.eyes:
        side = eye.laterality.value
        if side in seen:
            raise OutboundInputError(f"grading has two entries for the {side} eye")
        seen.add(side)
        if not eye.images:
            raise OutboundInputError(f"{side} eye has no images")
        ids = [img.image_id for img in eye.images]
        if len(set(ids)) != len(ids):
            raise OutboundInputError(f"{side} eye lists an image twice")
        for img in eye.images:
            if img.laterality != eye.laterality:
                raise OutboundInputError(f"an image of the {side} eye has another laterality")
            if img.model != grading.model:
                raise OutboundInputError("images were graded by a different model than the result")
        if eye.decisive_image_id is not None:
            decisive = eye.decisive
            if decisive is None:
                raise OutboundInputError(f"{side} eye: decisive image is not among its images")
            if not decisive.gradable:
                raise OutboundInputError(f"{side} eye: decisive image is not gradable")


def eye_observations(
    eye: EyeGrading, ctx: ScreeningContext, key: str, model: ModelInfo, device_url: str
) -> list[Built]:
    side = eye.laterality.value
    base = _base(eye, ctx, model, device_url)
    built = [_quality(eye, base, key)]
    decisive = eye.decisive
    if decisive is None:
        built.append(_ungradable_severity(eye, base, key))
        return built
    if decisive.dr_grade is not None:
        built.append(_severity(decisive, side, base, key))
    if decisive.dme is not None:
        code = _eye_code(codes.LOINC_MACULAR_EDEMA, side, "macular-edema")
        built.append(_binary("macular-edema", code, decisive.dme, side, base, key))
    if decisive.referable is not None:
        ref_code = deepdr_concept("referable-dr")
        built.append(_binary("referable-dr", ref_code, decisive.referable, side, base, key))
    if decisive.lesions:
        built.append(_lesions(decisive, side, base, key))
    return built


def _base(eye: EyeGrading, ctx: ScreeningContext, model: ModelInfo, device_url: str) -> JSON:
    obs: JSON = {
        "resourceType": "Observation",
        "meta": ai_meta(),
        "status": AI_OBSERVATION_STATUS,
        "category": [
            concept(codes.OBSERVATION_CATEGORY, codes.OBSERVATION_CATEGORY_EXAM),
            concept(codes.OBSERVATION_CATEGORY, codes.OBSERVATION_CATEGORY_IMAGING),
        ],
        "subject": {"reference": ctx.patient_ref},
        "effectiveDateTime": instant(ctx.effective, "effective"),
        "issued": instant(ctx.issued, "issued"),
        "method": {
            "text": f"Automated grading of fundus photographs ({model.name} {model.version})"
        },
        "device": {"reference": device_url},
        "note": [{"text": AI_NOTE}],
    }
    if ctx.encounter_ref:
        obs["encounter"] = {"reference": ctx.encounter_ref}
    site = codes.SNOMED_EYE_SITE.get(eye.laterality.value)
    if site:
        obs["bodySite"] = concept(codes.SNOMED, site)
    derived = _derived_from(eye.images, ctx)
    if derived:
        obs["derivedFrom"] = derived
    return obs


def _derived_from(images: tuple[ImageGrading, ...], ctx: ScreeningContext) -> list[JSON]:
    refs: list[str] = []
    for img in images:
        ref = ctx.image_sources.get(img.image_id)
        if ref and ref not in refs:
            refs.append(ref)
    return [{"reference": r} for r in refs]


def _eye_code(table: dict[str, codes.Code], side: str, fallback: str) -> JSON:
    code = table.get(side)
    return concept(codes.LOINC, code) if code else deepdr_concept(fallback)


def _finish(name: str, side: str, key: str, base: JSON, **fields: object) -> Built:
    ident = identifier("Observation", f"{key}.{side}.{name}")
    resource = {**base, "identifier": [ident], **fields}
    # Keep the conventional element order readable: resourceType, meta, identifier first.
    ordered: JSON = {
        k: resource[k] for k in ("resourceType", "meta", "identifier") if k in resource
    }
    ordered.update({k: v for k, v in resource.items() if k not in ordered})
    return Built(f"observation/{side}/{name}", ordered, full_url(ident))


def _quality(eye: EyeGrading, base: JSON, key: str) -> Built:
    side = eye.laterality.value
    decisive = eye.decisive
    scored = [img for img in eye.images if img.quality is not None]
    fields: JSON = {
        "code": deepdr_concept("image-quality"),
        "valueCodeableConcept": deepdr_concept("gradable" if decisive else "ungradable"),
    }
    best = decisive if decisive is not None else max(scored, key=_score, default=None)
    if best is not None and best.quality is not None:
        fields["component"] = [
            {
                "code": deepdr_concept("quality-score"),
                "valueQuantity": {**probability_quantity(best.quality.score), "unit": "score"},
            }
        ]
    notes = list(base["note"])
    reasons = sorted(
        {
            r
            for img in scored
            if img.quality and not img.quality.gradable
            for r in img.quality.reasons
        }
    )
    if reasons:
        notes.append({"text": "Ungradable image(s): " + "; ".join(reasons)[:1000]})
    unreadable = sum(1 for img in eye.images if img.error is not None)
    if unreadable:
        notes.append({"text": f"{unreadable} image(s) could not be read."})
    fields["note"] = notes
    return _finish("image-quality", side, key, base, **fields)


def _score(img: ImageGrading) -> float:
    return img.quality.score if img.quality else -1.0


def _ungradable_severity(eye: EyeGrading, base: JSON, key: str) -> Built:
    side = eye.laterality.value
    return _finish(
        "dr-severity",
        side,
        key,
        base,
        code=_eye_code(codes.LOINC_DR_SEVERITY, side, "dr-severity"),
        dataAbsentReason=concept(
            codes.DATA_ABSENT_REASON,
            codes.DATA_ABSENT_UNKNOWN,
            text="Ungradable: no image of this eye had sufficient quality",
        ),
    )


def _severity(img: ImageGrading, side: str, base: JSON, key: str) -> Built:
    assert img.dr_grade is not None
    grade = img.dr_grade.grade
    answer = codes.LOINC_DR_SEVERITY_ANSWERS[grade]
    components = [
        {"code": deepdr_concept(f"icdr-{i}-probability"), "valueQuantity": probability_quantity(p)}
        for i, p in enumerate(img.dr_grade.probabilities)
    ]
    return _finish(
        "dr-severity",
        side,
        key,
        base,
        code=_eye_code(codes.LOINC_DR_SEVERITY, side, "dr-severity"),
        valueCodeableConcept=concept(
            codes.LOINC, answer, text=f"ICDR {grade}: {ICDR_LABELS[grade]}"
        ),
        component=components,
    )


def _binary(
    name: str, code: JSON, finding: BinaryFinding, side: str, base: JSON, key: str
) -> Built:
    component: JSON = {
        "code": deepdr_concept("probability"),
        "valueQuantity": probability_quantity(finding.probability),
    }
    fields: JSON = {
        "code": code,
        "valueCodeableConcept": present_absent(finding.positive),
        "interpretation": interpretation(finding.positive),
        "component": [component],
    }
    if finding.threshold is not None:
        note = {"text": f"Decision threshold on the model probability: {finding.threshold:.3f}."}
        fields["note"] = [*base["note"], note]
    return _finish(name, side, key, base, **fields)


def _lesions(img: ImageGrading, side: str, base: JSON, key: str) -> Built:
    components = []
    for lesion_key in sorted(img.lesions):
        finding = img.lesions[lesion_key]
        code = LESION_CODES.get(lesion_key)
        components.append(
            {
                "code": deepdr_concept(code) if code else {"text": f"Lesion {lesion_key}"},
                "valueQuantity": probability_quantity(finding.probability),
                "interpretation": interpretation(finding.present),
            }
        )
    any_present = any(f.present for f in img.lesions.values())
    return _finish(
        "retinal-lesions",
        side,
        key,
        base,
        code=deepdr_concept("retinal-lesions"),
        valueCodeableConcept=present_absent(any_present),
        component=components,
    )
