"""Patient -> age (as of a reference date) and administrative sex."""

from __future__ import annotations

from datetime import date

from fhir_mappers.inbound.context import MappingContext
from fhir_mappers.inbound.fhir_json import JsonObj, parse_time, text
from models.clinical_facts import Sex

_SEX = {"male": Sex.MALE, "m": Sex.MALE, "female": Sex.FEMALE, "f": Sex.FEMALE}


def birth_date(patient: JsonObj | None, ctx: MappingContext) -> date | None:
    """Patient.birthDate; a partial one (YYYY, YYYY-MM) is read as the start of that period,
    so age equals "as_of year minus birth year" as most systems show it (with a warning)."""
    if patient is None:
        return None
    ref = ctx.ref(patient)
    raw = patient.get("birthDate")
    if raw is None:
        return None
    t = parse_time(raw)
    if t is None:
        ctx.warn(ref, "birthDate is not a FHIR date; age unknown")
        return None
    if t.precision in ("year", "month"):
        ctx.warn(ref, f"birthDate has {t.precision} precision only; age may be off by one")
    return t.day


def age_years(born: date | None, as_of: date, ref: str, ctx: MappingContext) -> int | None:
    if born is None:
        return None
    age = as_of.year - born.year - ((as_of.month, as_of.day) < (born.month, born.day))
    if age < 0 or age > 130:
        ctx.warn(ref, "birthDate gives an impossible age; age unknown")
        return None
    return age


def sex_of(patient: JsonObj | None, ctx: MappingContext) -> Sex:
    if patient is None:
        return Sex.UNKNOWN
    gender = text(patient, "gender")
    if gender is None:
        return Sex.UNKNOWN
    g = gender.lower()
    if g in _SEX:
        return _SEX[g]
    if g == "other":
        return Sex.OTHER
    if g != "unknown":
        ctx.warn(ctx.ref(patient), "gender is not a FHIR administrative-gender code")
    return Sex.UNKNOWN
