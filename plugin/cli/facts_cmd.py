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
from models import clinical_facts_display as display
from models.clinical_facts import (
    ClinicalFacts,
    ConditionFact,
    DiabetesFact,
    Measurement,
    Provenanced,
)
from plugin.cli.common import EXIT_OK, CliError, print_json, read_json_file


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


# --- Text rendering: the words, units and precision of models.clinical_facts_display ----------

LABEL_WIDTH = 26  # the longest label, "Albumin/creatinine ratio", and two spaces


def _condition_line(label: str, fact: ConditionFact | None) -> str:
    if fact is None:
        return f"  {label:<{LABEL_WIDTH}}not recorded"
    state = "yes" if fact.present else f"no ({fact.clinical_status or 'not current'})"
    when = f"  since {fact.onset}" if fact.onset and fact.present else ""
    code = f"  [{fact.code}]" if fact.code else ""
    return f"  {label:<{LABEL_WIDTH}}{state}{when}{code}  <- {fact.source}"


def _diabetes_line(d: DiabetesFact | None) -> str:
    label = display.fact_label("diabetes")
    if d is None:
        return f"  {label:<{LABEL_WIDTH}}not recorded"
    if not d.present:
        return f"  {label:<{LABEL_WIDTH}}no ({d.clinical_status or 'not current'})  <- {d.source}"
    dur = f", {display.duration_text(d.duration_years)}" if d.duration_years is not None else ""
    onset = f" (onset {d.onset})" if d.onset else ""
    code = f"  [{d.code}]" if d.code else ""
    kind = display.diabetes_type_name(d.type)
    return f"  {label:<{LABEL_WIDTH}}{kind}{dur}{onset}{code}  <- {d.source}"


def _measurement_line(name: str, m: Measurement) -> str:
    value = display.format_measurement(name, m)
    sent = display.sent_as(m)
    note = " (computed)" if m.derived_from else f" ({sent})" if sent else ""
    src = " + ".join(m.derived_from) if m.derived_from else m.source
    label = display.fact_label(name)
    return f"  {label:<{LABEL_WIDTH}}{value + note:<36}{m.date or 'undated'}  <- {src}"


def render_facts(facts: ClinicalFacts) -> str:
    lines = [f"{facts.patient_ref} (as of {facts.as_of})"]
    age = display.age_text(facts.age_years) if facts.age_years is not None else "age unknown"
    lines.append(f"  {age}, {display.sex_name(facts.sex)}")
    lines.append("Conditions")
    lines.append(_diabetes_line(facts.diabetes))
    for attr in display.CONDITIONS:
        lines.append(_condition_line(display.fact_label(attr), getattr(facts, attr)))
    if facts.ckd_stage:
        lines.append(f"  {display.fact_label('ckd_stage'):<{LABEL_WIDTH}}{facts.ckd_stage}")
    s = facts.smoking
    smoking = (
        f"{display.smoking_name(s.status)} ({s.date or 'undated'})  <- {s.source}"
        if s
        else "not recorded"
    )
    lines.append(f"  {display.fact_label('smoking'):<{LABEL_WIDTH}}{smoking}")
    lines += _advice_fact_lines(facts)
    lines.append("Measurements (latest)")
    if not facts.measurements:
        lines.append("  none")
    lines += [_measurement_line(n, m) for n, m in display.in_clinical_order(facts.measurements)]
    if facts.conflicting:
        names = ", ".join(display.fact_label(n) for n in facts.conflicting)
        lines.append(f"  Conflicting same-day results: {names} (see warnings)")
    lines.append("Current medications")
    if not facts.medications:
        lines.append("  none")
    for med in facts.medications:
        lines.append(f"  {display.medication_text(med)}  <- {med.source}")
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


def _line(name: str, text: str | None) -> str:
    return f"  {display.fact_label(name):<{LABEL_WIDTH}}{text or 'not recorded'}"


def _sourced(text: str, fact: Provenanced, code: str | None) -> str:
    coded = f"  [{code}]" if code else ""
    return f"{text} ({fact.date or 'undated'}){coded}  <- {fact.source}"


def _advice_fact_lines(facts: ClinicalFacts) -> list[str]:
    """What the advice reads besides conditions and labs (frailty, hypoglycaemia, ...)."""
    f, h, a, p, e = (
        facts.frailty,
        facts.hypoglycaemia,
        facts.alcohol,
        facts.population,
        facts.last_eye_exam,
    )
    hypo = None
    if h is not None:
        latest = " (latest shown)" if h.count > 1 else ""
        hypo = _sourced(display.hypoglycaemia_text(h) + latest, h, h.code)
    exam = None
    if e is not None:
        coded = f"  [{e.code}]" if e.code else ""
        exam = f"{e.date or 'undated'} {display.eye_exam_text(e)}{coded}  <- {e.source}"
    life = facts.limited_life_expectancy
    return [
        _line("frailty", _sourced(display.frailty_text(f), f, f.code) if f else None),
        _line("hypoglycaemia", hypo),
        _condition_line(display.fact_label("limited_life_expectancy"), life),
        _line("alcohol", _sourced(display.alcohol_text(a), a, a.code) if a else None),
        _line("population", f"{display.population_text(p)}  <- {p.source}" if p else None),
        _line("last_eye_exam", exam),
    ]
