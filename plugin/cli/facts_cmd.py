"""`deepdr-fhir facts BUNDLE.json`: the clinical facts found in a FHIR record.

Accepted input: a Bundle of any type with entries, a JSON array of resources, or a single
Patient. The patient is the only Patient in the file, or the one named by --patient.
Prints grouped text (value, unit, date, source) or, with --json, the ClinicalFacts JSON that
`deepdr-fhir advise FACTS.json` reads. Bad input: exit 2 and one line.
"""

from __future__ import annotations

import argparse
from datetime import date

from fhir_mappers.inbound import FhirInputError, clinical_facts_from_fhir
from models.clinical_facts import (
    AlcoholFact,
    ClinicalFacts,
    ConditionFact,
    EyeExamFact,
    FrailtyFact,
    HypoglycaemiaFact,
    PopulationFact,
)
from plugin.cli.common import EXIT_OK, CliError, print_json, read_json_file

MEASUREMENT_LABELS: dict[str, str] = {
    "hba1c": "HbA1c",
    "fasting_glucose": "Fasting glucose",
    "sbp": "Systolic BP",
    "dbp": "Diastolic BP",
    "heart_rate": "Heart rate",
    "bmi": "BMI",
    "height": "Height",
    "weight": "Weight",
    "total_cholesterol": "Total cholesterol",
    "ldl": "LDL cholesterol",
    "hdl": "HDL cholesterol",
    "triglycerides": "Triglycerides",
    "egfr": "eGFR",
    "uacr": "Urine ACR",
    "alt": "ALT",
    "ast": "AST",
    "ggt": "GGT",
}
CONDITION_LABELS: tuple[tuple[str, str], ...] = (
    ("hypertension", "Hypertension"),
    ("ckd", "Chronic kidney disease"),
    ("ascvd", "Cardiovascular disease"),
    ("heart_failure", "Heart failure"),
    ("prior_dr", "Prior DR"),
    ("prior_dme", "Prior DME"),
    ("pregnancy", "Pregnancy"),
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "facts",
        help="print the clinical facts found in a FHIR Bundle",
        description="Read a FHIR R4 Bundle (any type), a JSON array of resources or a "
        "Patient, and print the patient's clinical facts with their sources.",
    )
    p.add_argument("bundle", metavar="BUNDLE.json")
    p.add_argument("--json", action="store_true", help="print the ClinicalFacts JSON")
    p.add_argument("--patient", metavar="ID", help="which patient, when the file holds several")
    p.add_argument(
        "--as-of", metavar="YYYY-MM-DD", help="reference date for age and durations (default today)"
    )
    p.set_defaults(func=run)


def parse_as_of(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CliError(f"--as-of {value[:20]!r} is not a date (YYYY-MM-DD)") from exc


def run(args: argparse.Namespace) -> int:
    as_of = parse_as_of(args.as_of)
    data = read_json_file(args.bundle)
    try:
        facts = clinical_facts_from_fhir(data, as_of=as_of, patient_id=args.patient)
    except FhirInputError as exc:
        hint = " (use --patient ID)" if "choose one" in str(exc) else ""
        raise CliError(f"{args.bundle}: {exc}{hint}") from exc
    if args.json:
        print_json(facts.model_dump(mode="json"))
    else:
        print(render_facts(facts))
    return EXIT_OK


# --- Text rendering (also used by the demo) -------------------------------------------------


def _num(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _condition_line(label: str, fact: ConditionFact | None) -> str:
    if fact is None:
        return f"  {label:<24}not recorded"
    state = "yes" if fact.present else f"no ({fact.clinical_status or 'not current'})"
    when = f"  since {fact.onset}" if fact.onset and fact.present else ""
    code = f"  [{fact.code}]" if fact.code else ""
    return f"  {label:<24}{state}{when}{code}  <- {fact.source}"


def render_facts(facts: ClinicalFacts) -> str:
    lines = [f"{facts.patient_ref} (as of {facts.as_of})"]
    age = f"{facts.age_years} years" if facts.age_years is not None else "age unknown"
    lines.append(f"  {age}, sex {facts.sex.value}")
    lines.append("Conditions")
    d = facts.diabetes
    if d is None:
        lines.append(f"  {'Diabetes':<24}not recorded")
    elif not d.present:
        lines.append(f"  {'Diabetes':<24}no ({d.clinical_status or 'not current'})  <- {d.source}")
    else:
        dur = f", {_num(d.duration_years)} years" if d.duration_years is not None else ""
        onset = f" (onset {d.onset})" if d.onset else ""
        code = f"  [{d.code}]" if d.code else ""
        lines.append(f"  {'Diabetes':<24}{d.type.value}{dur}{onset}{code}  <- {d.source}")
    for attr, label in CONDITION_LABELS:
        lines.append(_condition_line(label, getattr(facts, attr)))
    if facts.ckd_stage:
        lines.append(f"  {'CKD stage':<24}{facts.ckd_stage}")
    s = facts.smoking
    smoking = f"{s.status.value} ({s.date or 'undated'})  <- {s.source}" if s else "not recorded"
    lines.append(f"  {'Smoking':<24}{smoking}")
    lines += _advice_fact_lines(facts)
    lines.append("Measurements (latest)")
    if not facts.measurements:
        lines.append("  none")
    for name, m in facts.measurements.items():
        value = f"{m.comparator or ''}{_num(m.value)} {m.unit}"
        sent = ""
        if m.original_unit is not None and m.original_value is not None:
            sent = f" (sent {_num(m.original_value)} {m.original_unit})"
        if m.derived_from:
            sent = " (computed)"
        src = " + ".join(m.derived_from) if m.derived_from else m.source
        label = MEASUREMENT_LABELS.get(name, name)
        lines.append(f"  {label:<20}{value + sent:<36}{m.date or 'undated'}  <- {src}")
    if facts.conflicting:
        names = ", ".join(MEASUREMENT_LABELS.get(n, n) for n in facts.conflicting)
        lines.append(f"  Conflicting same-day results: {names} (see warnings)")
    lines.append("Current medications")
    if not facts.medications:
        lines.append("  none")
    for med in facts.medications:
        lines.append(f"  {med.drug_class.value:<28}{med.name}  <- {med.source}")
    lines.append("Fundus images")
    if not facts.images:
        lines.append("  none")
    for img in facts.images:
        where = img.url or (img.instance_uid and f"instance {img.instance_uid}") or "inline data"
        lines.append(f"  {img.laterality:<8}{img.kind.value:<18}{where}  <- {img.source}")
    if facts.warnings:
        lines.append(f"Warnings ({len(facts.warnings)})")
        lines += [f"  - {w}" for w in facts.warnings]
    return "\n".join(lines)


def _line(label: str, text: str | None) -> str:
    return f"  {label:<24}{text or 'not recorded'}"


def _sourced(text: str, when: date | None, code: str | None, source: str) -> str:
    coded = f"  [{code}]" if code else ""
    return f"{text} ({when or 'undated'}){coded}  <- {source}"


def _frailty(f: FrailtyFact | None) -> str | None:
    if f is None:
        return None
    if not f.present:
        text = "no"
    else:
        text = f.severity.value if f.severity else "yes"
    if f.score is not None:
        text += f", Clinical Frailty Scale {_num(f.score)}"
    return _sourced(text, f.date, f.code, f.source)


def _hypoglycaemia(h: HypoglycaemiaFact | None) -> str | None:
    if h is None:
        return None
    text = "yes" + (", with coma" if h.coma else "")
    if h.count > 1:
        text += f", {h.count} records (latest shown)"
    return _sourced(text, h.date, h.code, h.source)


def _alcohol(a: AlcoholFact | None) -> str | None:
    if a is None:
        return None
    details = []
    if a.drinks_per_day is not None:
        details.append(f"{_num(a.drinks_per_day)} drinks/day")
    if a.audit_c is not None:
        details.append(f"AUDIT-C {_num(a.audit_c)}")
    text = a.use.value + (f", {', '.join(details)}" if details else "")
    return _sourced(text, a.date, a.code, a.source)


def _population(p: PopulationFact | None) -> str | None:
    if p is None:
        return None
    return f"{p.population.value} ({p.basis})  <- {p.source}"


def _eye_exam(e: EyeExamFact | None) -> str | None:
    if e is None:
        return None
    finding = {True: ", retinopathy", False: ", no retinopathy", None: ""}[e.retinopathy]
    coded = f"  [{e.code}]" if e.code else ""
    return f"{e.date or 'undated'} {e.kind}{finding}{coded}  <- {e.source}"


def _advice_fact_lines(facts: ClinicalFacts) -> list[str]:
    """What the advice reads besides conditions and labs (frailty, hypoglycaemia, ...)."""
    life = facts.limited_life_expectancy
    return [
        _line("Frailty", _frailty(facts.frailty)),
        _line("Hypoglycaemia", _hypoglycaemia(facts.hypoglycaemia)),
        _condition_line("Limited life expectancy", life),
        _line("Alcohol", _alcohol(facts.alcohol)),
        _line("BMI population", _population(facts.population)),
        _line("Last eye exam", _eye_exam(facts.last_eye_exam)),
    ]
