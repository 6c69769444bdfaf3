"""Assemble ClinicalFacts from FHIR input: the entry point of the inbound mappers.

    facts = clinical_facts_from_fhir(bundle_json, as_of=date(2025, 1, 31))

Pure (no I/O). Raises FhirInputError only when the input as a whole is unusable (see
bundle.py); everything wrong inside a resource becomes a warning on the facts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from fhir_mappers.inbound.advice_facts import (
    alcohol_fact,
    frailty_fact,
    hypoglycaemia_fact,
    last_eye_exam,
    life_expectancy_fact,
)
from fhir_mappers.inbound.advice_observations import (
    alcohol_of,
    eye_exam_of_observation,
    frailty_score_of,
)
from fhir_mappers.inbound.bundle import (
    PatientChoice,
    belongs_to,
    build_index,
    choose_patient,
    extract_entries,
)
from fhir_mappers.inbound.conditions import (
    ConditionRecord,
    ckd_stage,
    condition_fact,
    diabetes_fact,
    pregnancy_fact,
    read_condition,
)
from fhir_mappers.inbound.context import MappingContext
from fhir_mappers.inbound.fhir_json import JsonObj, text
from fhir_mappers.inbound.images import document_refs, imaging_study_refs, media_refs
from fhir_mappers.inbound.measurement_conflicts import conflicting_measurements
from fhir_mappers.inbound.medications import deduplicate, medications_of
from fhir_mappers.inbound.observations import ObsTime, measurements_of
from fhir_mappers.inbound.patient import age_years, birth_date, sex_of
from fhir_mappers.inbound.population import population_of
from fhir_mappers.inbound.procedures import procedure_facts, report_eye_exam
from fhir_mappers.inbound.status_observations import pregnancy_of, smoking_of
from fhir_mappers.units import plausible
from models.clinical_facts import (
    AlcoholFact,
    ClinicalFacts,
    ConditionFact,
    EyeExamFact,
    FrailtyFact,
    ImageRef,
    Measurement,
    MedicationFact,
    SmokingFact,
    SmokingStatus,
)

_MAPPED_TYPES = {
    "Condition",
    "Observation",
    "MedicationRequest",
    "MedicationStatement",
    "ImagingStudy",
    "Media",
    "DocumentReference",
    "Procedure",
    "DiagnosticReport",
}
_READ_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError)
# Height is stable in adults; in children it changes within weeks.
BMI_HEIGHT_WINDOW_ADULT = timedelta(days=365)
BMI_HEIGHT_WINDOW_CHILD = timedelta(days=31)


def clinical_facts_from_fhir(
    data: Any, *, as_of: date | None = None, patient_id: str | None = None
) -> ClinicalFacts:
    """`data`: parsed JSON (a Bundle, a list of resources, or a Patient). `patient_id`
    chooses the patient when the input holds several. `as_of` defaults to today."""
    as_of = as_of or date.today()
    entries, input_warnings = extract_entries(data)
    choice = choose_patient(entries, patient_id)
    ctx = MappingContext(as_of=as_of, index=build_index(entries), patient_ref=choice.ref)
    ctx.warnings.extend(input_warnings)
    ctx.full_urls = {id(e.resource): e.full_url for e in entries if e.full_url}
    ctx.birth_date = birth_date(choice.patient, ctx)
    resources = _patient_resources([e.resource for e in entries], choice, ctx)
    return _assemble(resources, choice, ctx)


def _patient_resources(
    resources: list[JsonObj], choice: PatientChoice, ctx: MappingContext
) -> list[JsonObj]:
    patients = {id(r) for r in resources if text(r, "resourceType") == "Patient"}
    several = len(patients) > 1
    mine: list[JsonObj] = []
    for r in resources:
        if text(r, "resourceType") not in _MAPPED_TYPES:
            continue
        owner = belongs_to(r, choice)
        if owner is False:
            continue
        if owner is None:
            if several:
                ctx.warn(ctx.ref(r), "no subject in a multi-patient input; ignored")
                continue
            ctx.warn(ctx.ref(r), "no subject; read as this patient's")
        mine.append(r)
    return mine


def _safely(fn: Callable[[JsonObj, MappingContext], Any], r: JsonObj, ctx: MappingContext) -> Any:
    try:
        return fn(r, ctx)
    except _READ_ERRORS as exc:  # a malformed resource must not lose the whole record
        ctx.warn(ctx.ref(r), f"could not be read ({type(exc).__name__}); ignored")
        return None


def _assemble(
    resources: list[JsonObj], choice: PatientChoice, ctx: MappingContext
) -> ClinicalFacts:
    conditions: list[ConditionRecord] = []
    candidates: dict[str, list[tuple[Measurement, ObsTime]]] = {}
    smoking_obs: list[tuple[SmokingFact, ObsTime]] = []
    pregnancy_obs: list[tuple[ConditionFact, ObsTime]] = []
    frailty_obs: list[tuple[FrailtyFact, ObsTime]] = []
    alcohol_obs: list[tuple[AlcoholFact, ObsTime]] = []
    eye_exams: list[EyeExamFact] = []
    end_of_life_care: list[ConditionFact] = []
    meds: list[MedicationFact] = []
    images: list[ImageRef] = []
    sex = sex_of(choice.patient, ctx)
    for r in resources:
        rtype = text(r, "resourceType")
        if rtype == "Condition":
            rec = _safely(read_condition, r, ctx)
            if rec is not None:
                conditions.append(rec)
        elif rtype == "Observation":
            for name, m, when in _safely(measurements_of, r, ctx) or []:
                candidates.setdefault(name, []).append((m, when))
            if (s := _safely(smoking_of, r, ctx)) is not None:
                smoking_obs.append(s)
            if (p := _safely(pregnancy_of, r, ctx)) is not None:
                pregnancy_obs.append(p)
            if (f := _safely(frailty_score_of, r, ctx)) is not None:
                frailty_obs.append(f)
            if (a := _safely(lambda res, c: alcohol_of(res, c, sex), r, ctx)) is not None:
                alcohol_obs.append(a)
            if (e := _safely(eye_exam_of_observation, r, ctx)) is not None:
                eye_exams.append(e)
        elif rtype in ("MedicationRequest", "MedicationStatement"):
            meds += _safely(medications_of, r, ctx) or []
        elif rtype == "ImagingStudy":
            images += _safely(imaging_study_refs, r, ctx) or []
        elif rtype == "Media":
            images += _safely(media_refs, r, ctx) or []
        elif rtype == "DocumentReference":
            images += _safely(document_refs, r, ctx) or []
        elif rtype == "Procedure":
            proc = _safely(procedure_facts, r, ctx)
            if proc is not None and proc.eye_exam is not None:
                eye_exams.append(proc.eye_exam)
            if proc is not None and proc.life is not None:
                end_of_life_care.append(proc.life)
        elif rtype == "DiagnosticReport":
            if (e := _safely(report_eye_exam, r, ctx)) is not None:
                eye_exams.append(e)

    age = age_years(ctx.birth_date, ctx.as_of, choice.ref, ctx)
    if choice.patient is None:
        ctx.warn(choice.ref, "no Patient resource in the input; age and sex unknown")
    measurements = {name: max(c, key=lambda mc: mc[1].key)[0] for name, c in candidates.items()}
    conflicting = conflicting_measurements(candidates, measurements, ctx)
    bmi = _computed_bmi(candidates, measurements.get("bmi"), age, ctx)
    if bmi is not None:
        measurements["bmi"] = bmi
    sorted_images = tuple(
        sorted(images, key=lambda i: (i.date or date.min, i.source, i.laterality))
    )
    return ClinicalFacts(
        patient_ref=choice.ref,
        as_of=ctx.as_of,
        age_years=age,
        sex=sex,
        diabetes=diabetes_fact(conditions, ctx),
        hypertension=condition_fact(conditions, "htn"),
        ckd=condition_fact(conditions, "ckd"),
        ckd_stage=ckd_stage(conditions),
        ascvd=condition_fact(conditions, "ascvd"),
        heart_failure=condition_fact(conditions, "hf"),
        prior_dr=condition_fact(conditions, "dr"),
        prior_dme=condition_fact(conditions, "dme"),
        pregnancy=_pregnancy(conditions, pregnancy_obs, ctx),
        smoking=_smoking(smoking_obs, conditions),
        frailty=frailty_fact(conditions, frailty_obs),
        hypoglycaemia=hypoglycaemia_fact(conditions),
        limited_life_expectancy=life_expectancy_fact(
            conditions, end_of_life_care, frailty_obs, ctx
        ),
        alcohol=alcohol_fact(alcohol_obs, conditions),
        population=population_of(choice.patient, ctx),
        last_eye_exam=last_eye_exam(eye_exams, sorted_images, ctx),
        measurements=dict(sorted(measurements.items())),
        medications=deduplicate(meds),
        images=sorted_images,
        conflicting=conflicting,
        warnings=tuple(ctx.warnings),
    )


def _computed_bmi(
    candidates: dict[str, list[tuple[Measurement, ObsTime]]],
    reported: Measurement | None,
    age: int | None,
    ctx: MappingContext,
) -> Measurement | None:
    """BMI from the latest weight and the height measured closest to it, when no reported
    BMI is as recent; None when the two are not dated close together."""
    weights = [m for m, _ in sorted(candidates.get("weight", []), key=lambda mc: mc[1].key)]
    heights = [m for m, _ in candidates.get("height", []) if m.date is not None]
    if not weights or not heights or weights[-1].date is None:
        return None
    weight = weights[-1]
    assert weight.date is not None
    if reported is not None and (reported.date is None or reported.date >= weight.date):
        return None
    window = BMI_HEIGHT_WINDOW_CHILD if age is not None and age < 18 else BMI_HEIGHT_WINDOW_ADULT
    weighed: date = weight.date

    def distance(h: Measurement) -> timedelta:
        return abs((h.date or date.min) - weighed)

    height = min(heights, key=distance)
    if distance(height) > window:
        return None
    value = weight.value / (height.value / 100.0) ** 2
    if not plausible("bmi", value):
        ctx.warn(weight.source, "BMI computed from weight and height is implausible; dropped")
        return None
    return Measurement(
        source=weight.source,
        date=weight.date,
        value=round(value, 1),
        unit="kg/m2",
        derived_from=(weight.source, height.source),
    )


def _smoking(
    observed: list[tuple[SmokingFact, ObsTime]], conditions: list[ConditionRecord]
) -> SmokingFact | None:
    if observed:
        return max(observed, key=lambda so: so[1].key)[0]
    recs = [r for r in conditions if r.has("smoking") and r.current]
    if not recs:
        return None
    latest = max(recs, key=lambda r: r.when.instant.timestamp() if r.when else 0.0)
    return SmokingFact(
        source=latest.ref,
        date=latest.when.day if latest.when else None,
        status=SmokingStatus(latest.detail("smoking") or "unknown"),
        code=latest.code,
    )


def _pregnancy(
    conditions: list[ConditionRecord],
    observed: list[tuple[ConditionFact, ObsTime]],
    ctx: MappingContext,
) -> ConditionFact | None:
    from_conditions = pregnancy_fact(conditions, ctx)
    if not observed:
        return from_conditions
    latest_obs = max(observed, key=lambda po: po[1].key)[0]
    if latest_obs.present and latest_obs.date is not None:
        if (ctx.as_of - latest_obs.date).days > 300:
            ctx.warn(latest_obs.source, "pregnancy status observed over 300 days ago; not current")
            latest_obs = latest_obs.model_copy(update={"present": False})
    if from_conditions is None:
        return latest_obs
    cond_day = from_conditions.date or from_conditions.onset
    if cond_day is None or (latest_obs.date is not None and latest_obs.date >= cond_day):
        return latest_obs
    return from_conditions
