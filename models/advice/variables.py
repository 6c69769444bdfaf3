"""The variables rules may read: a flat, typed view of ClinicalFacts + grading + context.

Frailty, hypoglycaemia history, limited life expectancy, population, alcohol use and the last
eye examination come from ClinicalFacts; an AdviceContext value, when given, overrides the
record's (its source reads "advice context"); the population falls back to the deployment's
default (`default_population`, from AdviceSettings.population) and then to "general".

Rule conditions and templates name variables from `VARIABLES` only (checked when the
knowledge base loads), so the YAML cannot reach into Python objects. Each variable keeps
the provenance of the fact it came from, which becomes the item's `facts_used`.
Values are in the canonical units of models.clinical_facts (hba1c %, lipids mmol/L, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from models.advice.types import AdviceContext, FactUsed, Lang
from models.clinical_facts import (
    AlcoholUse,
    ClinicalFacts,
    ConditionFact,
    MedicationClass,
    Population,
)
from models.grader.result import PatientGrading

Scalar = float | bool | str


@dataclass(frozen=True)
class Var:
    value: Scalar
    unit: str | None = None
    source: str | None = None
    when: date | None = None

    def fact_used(self, name: str) -> FactUsed:
        return FactUsed(
            name=name,
            value=_display(self.value),
            unit=self.unit,
            source=self.source,
            date=self.when,
        )


def _display(v: Scalar) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}"
    return v


_MEASUREMENTS: tuple[str, ...] = (
    "hba1c",
    "fasting_glucose",
    "sbp",
    "dbp",
    "heart_rate",
    "bmi",
    "weight",
    "total_cholesterol",
    "ldl",
    "hdl",
    "triglycerides",
    "egfr",
    "uacr",
    "alt",
    "ast",
    "ggt",
)
_CONDITIONS: tuple[str, ...] = (
    "hypertension",
    "ckd",
    "ascvd",
    "heart_failure",
    "prior_dr",
    "prior_dme",
    "pregnancy",
)
_NUMERIC_OTHER: tuple[str, ...] = (
    "age",
    "diabetes_duration_years",
    "dr_grade_max",
    "eyes_graded",
    "eyes_ungradable",
    "eye_exam_age_days",
    "frailty_score",
    "eyes_assessed",
)
_BOOL_OTHER: tuple[str, ...] = (
    "dme_any",
    "referable_any",
    "grading_present",
    "frail",
    "severe_frailty",
    "severe_hypoglycaemia_history",
    "limited_life_expectancy",
    "last_eye_exam_retinopathy",
)
_STR_OTHER: tuple[str, ...] = (
    "sex",
    "diabetes_type",
    "smoking",
    "ckd_stage",
    "population",
    "alcohol",
)

# Name -> kind ("number" | "bool" | "str"). The knowledge-base validator checks operators
# against these kinds.
VARIABLES: dict[str, str] = {
    **{m: "number" for m in _MEASUREMENTS},
    **{f"{m}_age_days": "number" for m in _MEASUREMENTS},
    **{f"{m}_conflict": "bool" for m in _MEASUREMENTS},
    **{c: "bool" for c in _CONDITIONS},
    **{f"on_{c.value}": "bool" for c in MedicationClass},
    **{n: "number" for n in _NUMERIC_OTHER},
    **{n: "bool" for n in _BOOL_OTHER},
    **{n: "str" for n in _STR_OTHER},
}

# Derived display values templates may use besides the variables themselves, with the
# variables each one shows.
DISPLAY_ONLY: dict[str, tuple[str, ...]] = {
    "hba1c_mmol_mol": ("hba1c",),
    "ldl_mg_dl": ("ldl",),
    "triglycerides_mg_dl": ("triglycerides",),
    "fasting_glucose_mg_dl": ("fasting_glucose",),
    # The reading as a phrase that states only what is known: "Blood pressure 152/84 mmHg",
    # "Diastolic blood pressure 92 mmHg (systolic not recorded)". A rule that fires on
    # either value must not print "unknown/92".
    "blood_pressure": ("sbp", "dbp"),
}
_BLOOD_PRESSURE: dict[Lang, dict[str, str]] = {
    Lang.EN: {
        "both": "Blood pressure {sbp}/{dbp} mmHg",
        "sbp": "Systolic blood pressure {sbp} mmHg (diastolic not recorded)",
        "dbp": "Diastolic blood pressure {dbp} mmHg (systolic not recorded)",
    },
    Lang.ZH: {
        "both": "血压{sbp}/{dbp} mmHg",
        "sbp": "收缩压{sbp} mmHg（舒张压未记录）",
        "dbp": "舒张压{dbp} mmHg（收缩压未记录）",
    },
}


def _condition(c: ConditionFact | None) -> Var | None:
    if c is None:
        return None
    return Var(c.present, source=c.source, when=c.date or c.onset)


def build_variables(
    facts: ClinicalFacts,
    grading: PatientGrading | None,
    context: AdviceContext,
    default_population: Population | None = None,
) -> dict[str, Var]:
    """Every variable that has a value; a missing one is simply absent."""
    out: dict[str, Var] = {}
    for name in _MEASUREMENTS:
        m = facts.measurements.get(name)
        if m is None:
            continue
        out[name] = Var(float(m.value), unit=m.unit, source=m.source, when=m.date)
        if m.date is not None:
            age = (facts.as_of - m.date).days
            out[f"{name}_age_days"] = Var(float(age), unit="d", source=m.source, when=m.date)
        if name in facts.conflicting:
            out[f"{name}_conflict"] = Var(True, source=m.source, when=m.date)
    for name in _CONDITIONS:
        v = _condition(getattr(facts, name))
        if v is not None:
            out[name] = v
    if facts.age_years is not None:
        out["age"] = Var(float(facts.age_years), unit="a", source=facts.patient_ref)
    out["sex"] = Var(facts.sex.value, source=facts.patient_ref)
    if facts.diabetes is not None and facts.diabetes.present:
        d = facts.diabetes
        out["diabetes_type"] = Var(d.type.value, source=d.source, when=d.date or d.onset)
        if d.duration_years is not None:
            out["diabetes_duration_years"] = Var(
                float(d.duration_years), unit="a", source=d.source, when=d.onset
            )
    if facts.ckd_stage is not None:
        src = facts.ckd.source if facts.ckd else None
        out["ckd_stage"] = Var(facts.ckd_stage, source=src)
    if facts.smoking is not None:
        out["smoking"] = Var(
            facts.smoking.status.value, source=facts.smoking.source, when=facts.smoking.date
        )
    for cls in MedicationClass:
        meds = [m for m in facts.medications if m.drug_class == cls]
        if meds:
            out[f"on_{cls.value}"] = Var(True, source=meds[0].source, when=meds[0].date)
        else:
            # Absence of a medication is a fact of the medication list, not a missing value.
            out[f"on_{cls.value}"] = Var(False, source="MedicationStatement list")
    _grading_variables(grading, out)
    _record_variables(facts, context, default_population, out)
    return out


def _grading_variables(grading: PatientGrading | None, out: dict[str, Var]) -> None:
    if grading is None:
        out["grading_present"] = Var(False)
        return
    out["grading_present"] = Var(True, source=f"model {grading.model.name} {grading.model.version}")
    grades: list[tuple[int, str]] = []
    dme: list[tuple[bool, str]] = []
    referable: list[bool] = []
    ungradable = 0
    for eye in grading.eyes:
        img = eye.decisive
        if img is None:
            ungradable += 1
            continue
        ref = f"{eye.laterality.value} eye image {img.image_id}"
        if img.dr_grade is not None:
            grades.append((img.dr_grade.grade, ref))
        if img.dme is not None:
            dme.append((img.dme.positive, ref))
        if img.referable is not None:
            referable.append(img.referable.positive)
    out["eyes_assessed"] = Var(float(len(grading.eyes)))
    out["eyes_graded"] = Var(float(len(grading.eyes) - ungradable))
    out["eyes_ungradable"] = Var(float(ungradable))
    if grades:
        worst = max(grades)
        out["dr_grade_max"] = Var(float(worst[0]), source=worst[1])
    if dme:
        pos = [r for p, r in dme if p]
        out["dme_any"] = Var(bool(pos), source=pos[0] if pos else dme[0][1])
    if referable:
        out["referable_any"] = Var(any(referable))


_CONTEXT = "advice context"


def _record_variables(
    facts: ClinicalFacts,
    ctx: AdviceContext,
    default_population: Population | None,
    out: dict[str, Var],
) -> None:
    """Frailty, hypoglycaemia, life expectancy, population, alcohol and the last eye exam:
    from the record, each overridden by the context when the caller gives it."""
    fr = facts.frailty
    if ctx.frail is not None:
        out["frail"] = Var(ctx.frail, source=_CONTEXT)
    elif fr is not None:
        out["frail"] = Var(fr.present, source=fr.source, when=fr.date)
    if ctx.severe_frailty is not None:
        out["severe_frailty"] = Var(ctx.severe_frailty, source=_CONTEXT)
    elif fr is not None and fr.present and fr.severity is not None:
        out["severe_frailty"] = Var(fr.severity.value == "severe", source=fr.source, when=fr.date)
    if "frail" not in out and "severe_frailty" in out and out["severe_frailty"].value is True:
        out["frail"] = out["severe_frailty"]  # severe frailty is frailty
    if fr is not None and fr.score is not None:
        out["frailty_score"] = Var(float(fr.score), source=fr.source, when=fr.date)
    hypo = facts.hypoglycaemia
    if ctx.severe_hypoglycaemia_history is not None:
        out["severe_hypoglycaemia_history"] = Var(ctx.severe_hypoglycaemia_history, source=_CONTEXT)
    elif hypo is not None:
        out["severe_hypoglycaemia_history"] = Var(True, source=hypo.source, when=hypo.date)
    life = facts.limited_life_expectancy
    if ctx.limited_life_expectancy is not None:
        out["limited_life_expectancy"] = Var(ctx.limited_life_expectancy, source=_CONTEXT)
    elif life is not None:
        out["limited_life_expectancy"] = Var(life.present, source=life.source, when=life.date)
    if ctx.population is not None:
        out["population"] = Var(ctx.population.value, source=_CONTEXT)
    elif facts.population is not None:
        p = facts.population
        out["population"] = Var(p.population.value, source=f"{p.source} ({p.basis})", when=p.date)
    elif default_population is not None:
        out["population"] = Var(default_population.value, source="deployment default")
    else:
        out["population"] = Var(Population.GENERAL.value, source="default (general)")
    if ctx.alcohol is not None:
        out["alcohol"] = Var(ctx.alcohol.value, source=_CONTEXT)
    elif facts.alcohol is not None:
        a = facts.alcohol
        out["alcohol"] = Var(a.use.value, source=a.source, when=a.date)
    else:
        out["alcohol"] = Var(AlcoholUse.UNKNOWN.value, source="not recorded")
    exam = facts.last_eye_exam
    exam_day, exam_src = (exam.date, exam.source) if exam is not None else (None, None)
    if ctx.last_eye_exam is not None and (exam_day is None or ctx.last_eye_exam > exam_day):
        exam_day, exam_src = ctx.last_eye_exam, _CONTEXT
    if exam_day is not None:
        out["eye_exam_age_days"] = Var(
            float((facts.as_of - exam_day).days), unit="d", source=exam_src, when=exam_day
        )
    if exam is not None and exam.retinopathy is not None and exam_src == exam.source:
        out["last_eye_exam_retinopathy"] = Var(exam.retinopathy, source=exam.source, when=exam.date)


def display_values(variables: dict[str, Var], lang: Lang = Lang.EN) -> dict[str, str]:
    """Formatted strings for templates: '7.9', '63' (HbA1c mmol/mol), '2.6' ..."""
    out: dict[str, str] = {}
    for name, var in variables.items():
        out[name] = _fmt(name, var.value)
    if "hba1c" in variables:
        pct = float(variables["hba1c"].value)
        out["hba1c_mmol_mol"] = f"{round((pct - 2.15) * 10.929):d}"
    if "ldl" in variables:
        out["ldl_mg_dl"] = f"{round(float(variables['ldl'].value) * 38.67):d}"
    if "triglycerides" in variables:
        out["triglycerides_mg_dl"] = f"{round(float(variables['triglycerides'].value) * 88.57):d}"
    if "fasting_glucose" in variables:
        out["fasting_glucose_mg_dl"] = f"{round(float(variables['fasting_glucose'].value) * 18):d}"
    known = [n for n in ("sbp", "dbp") if n in out]
    if known:
        form = "both" if len(known) == 2 else known[0]
        out["blood_pressure"] = _BLOOD_PRESSURE[lang][form].format(**out)
    return out


def _fmt(name: str, v: Scalar) -> str:
    if isinstance(v, bool) or isinstance(v, str):
        return _display(v)
    if name in (
        "sbp",
        "dbp",
        "age",
        "heart_rate",
        "uacr",
        "egfr",
        "dr_grade_max",
        "frailty_score",
        "eyes_graded",
        "eyes_ungradable",
    ) or name.endswith("_age_days"):
        return f"{round(v):d}"
    return f"{v:.1f}" if abs(v) < 100 else f"{round(v):d}"
