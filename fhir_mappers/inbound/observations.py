"""Observation resources -> the latest value of each measurement, in canonical units.

Rules:
  * status preliminary / final / amended / corrected (and appended) are read; registered,
    cancelled, entered-in-error and unknown are ignored (a warning for those we would read);
  * the value comes from the Observation and from each of its components (so blood-pressure
    panels 85354-9 / 55284-4 work, as do standalone 8480-6 / 8462-4);
  * valueQuantity (with `code` and/or `unit`), valueString ("7.2", "<5", "6,1 mmol/L"),
    valueInteger; a comparator is kept on the Measurement;
  * time: effectiveDateTime / effectivePeriod (start) / effectiveInstant, else `issued`;
    the latest wins, ties broken by `issued` then `meta.lastUpdated`;
  * a value without a unit takes the unit its LOINC code implies (with a warning); an
    unknown unit, a unit that is not one of the measurement's, or an implausible value is
    dropped with a warning (units.py has the factors and bounds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fhir_mappers import codes
from fhir_mappers.inbound.context import MappingContext
from fhir_mappers.inbound.fhir_json import (
    FhirTime,
    JsonObj,
    codings,
    concept_text,
    number,
    obj,
    objs,
    parse_time,
    period_start,
    status_code,
    text,
)
from fhir_mappers.units import (
    PLAUSIBLE_RANGES,
    Linear,
    plausible,
    resolve_unit,
    safe_unit_text,
    same_conversion,
    to_canonical,
)
from models.clinical_facts import CANONICAL_UNITS, Measurement

READ_STATUSES = {"preliminary", "final", "amended", "corrected", "appended"}
_WARN_STATUSES = {"cancelled", "entered-in-error", "unknown"}
_UCUM_SYSTEMS = {codes.UCUM, "urn:oid:2.16.840.1.113883.6.8", "http://unitsofmeasure.org/"}
_JDS_TO_NGSP = Linear(1.02, 0.25)
_EPOCH = -62135596800.0  # 0001-01-01 UTC: undated values rank oldest


@dataclass(frozen=True)
class ObsTime:
    shown: FhirTime | None  # the date a clinician would call "when"
    key: tuple[float, float, float]  # effective (or issued), issued, lastUpdated


def observation_time(resource: JsonObj) -> ObsTime:
    eff = (
        parse_time(resource.get("effectiveDateTime"))
        or period_start(resource.get("effectivePeriod"))
        or parse_time(resource.get("effectiveInstant"))
    )
    timing = obj(resource, "effectiveTiming")
    if eff is None and timing is not None:
        events = timing.get("event")
        eff = parse_time(events[0]) if isinstance(events, list) and events else None
    issued = parse_time(resource.get("issued"))
    meta = obj(resource, "meta")
    updated = parse_time(meta.get("lastUpdated")) if meta else None
    shown = eff or issued

    def ts(t: FhirTime | None) -> float:
        return t.instant.timestamp() if t else _EPOCH

    return ObsTime(shown, (ts(shown), ts(issued), ts(updated)))


# --- Values -----------------------------------------------------------------------------

_VALUE_STRING = re.compile(r"^\s*(<=|>=|≤|≥|<|>|=)?\s*([+-]?\d+(?:[.,]\d+)?)\s*(.*?)\s*$")
# Lab flags after the number ("7.2 H", "7.2 (high)", "7.2*"); a flag stands alone, so the
# "L" of "mmol/L" is not one.
_FLAGS = re.compile(r"(?:(?:^|\s)\(?(?:hh?|ll?|a|high|low|abnormal|critical)\)?|\*+)\s*$", re.I)
_COMPARATORS = {"≤": "<=", "≥": ">=", "=": None}


@dataclass(frozen=True)
class RawValue:
    value: float
    comparator: str | None
    unit_code: str | None
    unit_text: str | None


def _parse_number_text(s: str) -> tuple[float, str | None, str] | None:
    m = _VALUE_STRING.match(s)
    if not m:
        return None
    num = m.group(2)
    if "," in num:
        whole, frac = num.split(",")
        num = f"{whole}{frac}" if len(frac) == 3 else f"{whole}.{frac}"
    value = number(num)
    if value is None:
        return None
    comp = m.group(1)
    comp = _COMPARATORS.get(comp, comp) if comp else None
    rest = _FLAGS.sub("", m.group(3)).strip()
    return value, comp, rest


def read_value(container: JsonObj, ref: str, ctx: MappingContext, what: str) -> RawValue | None:
    """The numeric value of an Observation or component; None (with a warning when it is
    something we should have been able to read) otherwise."""
    q = obj(container, "valueQuantity")
    if q is not None:
        value = number(q.get("value"))
        if value is None:
            ctx.warn(ref, f"{what}: valueQuantity has no numeric value; dropped")
            return None
        system = text(q, "system")
        code = text(q, "code") if (system is None or system in _UCUM_SYSTEMS) else None
        comp = text(q, "comparator")
        return RawValue(
            value, _COMPARATORS.get(comp, comp) if comp else None, code, text(q, "unit")
        )
    for key in ("valueInteger", "valueDecimal"):
        if key in container:
            value = number(container[key])
            if value is None:
                ctx.warn(ref, f"{what}: {key} is not a number; dropped")
                return None
            return RawValue(value, None, None, None)
    if "valueString" in container:
        raw = container["valueString"]
        parsed = _parse_number_text(raw) if isinstance(raw, str) else None
        if parsed is None:
            ctx.warn(ref, f"{what}: valueString is not a number; dropped")
            return None
        value, comp, unit = parsed
        return RawValue(value, comp, None, unit or None)
    if "dataAbsentReason" in container:
        return None
    if any(k.startswith("value") for k in container):
        ctx.warn(ref, f"{what}: value is not numeric; dropped")
    elif not objs(container, "component"):
        ctx.warn(ref, f"{what}: no value; dropped")
    return None


def to_measurement(
    measure: str,
    loinc: str,
    raw: RawValue,
    ref: str,
    when: ObsTime,
    status: str | None,
    ctx: MappingContext,
) -> Measurement | None:
    """Unit resolution, conversion and bounds for one value (see the module docstring)."""
    label = f"{measure} (LOINC {loinc})" if loinc != "name" else f"{measure} (no LOINC code)"
    resolved = resolve_unit(raw.unit_code, raw.unit_text)
    if resolved is None:
        default = codes.LOINC_MEASUREMENTS.get(loinc, (measure, None))[1]
        if default is None:
            ctx.warn(ref, f"{label}: no unit and the code allows several; dropped")
            return None
        ctx.warn(ref, f"{label}: no unit; read as {default}, the unit its code implies")
        ucum = default
        written = default
    elif resolved.conflict and not same_conversion(
        measure, resolved.by_code or "", resolved.by_text or ""
    ):
        ctx.warn(ref, f"{label}: unit code and unit text disagree; dropped")
        return None
    elif resolved.ucum is None:
        ctx.warn(ref, f"{label}: unknown unit '{safe_unit_text(resolved.written)}'; dropped")
        return None
    else:
        ucum, written = resolved.ucum, resolved.written
    value = to_canonical(measure, raw.value, ucum)
    if value is None:
        ctx.warn(ref, f"{label}: '{safe_unit_text(written)}' is not a unit of {measure}; dropped")
        return None
    if loinc == codes.LOINC_HBA1C_JDS and ucum == "%":
        value = _JDS_TO_NGSP.apply(value)
    canonical = CANONICAL_UNITS[measure]
    if not plausible(measure, value):
        low, high = PLAUSIBLE_RANGES[measure]
        ctx.warn(
            ref, f"{label}: value outside plausible range {low:g}-{high:g} {canonical}; dropped"
        )
        return None
    converted = ucum != canonical or loinc == codes.LOINC_HBA1C_JDS
    return Measurement(
        source=ref,
        date=when.shown.day if when.shown else None,
        value=round(value, 2),
        unit=canonical,
        original_value=raw.value if converted else None,
        original_unit=ucum if converted else None,
        comparator=raw.comparator,
        code=loinc if loinc != "name" else None,
        status=status,
    )


# --- Which measurement an Observation (or component) is ----------------------------------

_NAME_FALLBACK: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("hba1c", re.compile(r"\b(?:hb)?a1c\b|glyc(?:at|osyl)ated ha?emoglobin|糖化血红蛋白")),
    ("egfr", re.compile(r"\begfr\b|estimated glomerular|glomerular filtration rate|肾小球滤过率")),
    ("uacr", re.compile(r"albumin\W{0,3}(?:to\W)?creatinine|\bu?acr\b|白蛋白.{0,3}肌酐")),
    ("ldl", re.compile(r"\bldl\b|low[- ]density lipoprotein|低密度脂蛋白")),
    ("hdl", re.compile(r"\bhdl\b|high[- ]density lipoprotein|高密度脂蛋白")),
    ("triglycerides", re.compile(r"triglycerid|甘油三酯")),
    ("total_cholesterol", re.compile(r"^(?:total )?cholesterol(?:,? total)?$|总胆固醇")),
    (
        "fasting_glucose",
        re.compile(r"fasting (?:blood |plasma |serum )?glucose|\bf[bp]g\b|空腹血糖"),
    ),
    ("sbp", re.compile(r"systolic|收缩压")),
    ("dbp", re.compile(r"diastolic|舒张压")),
    ("heart_rate", re.compile(r"heart rate|pulse rate|心率")),
    ("bmi", re.compile(r"\bbmi\b|body mass index|体重指数")),
    ("weight", re.compile(r"^(?:body )?weight$|^体重$")),
    ("height", re.compile(r"^(?:body )?height$|^身高$")),
    ("alt", re.compile(r"\balt\b|alanine aminotransferase|\bsgpt\b|谷丙转氨酶")),
    ("ast", re.compile(r"\bast\b|aspartate aminotransferase|\bsgot\b|谷草转氨酶")),
    ("ggt", re.compile(r"\bggt\b|gamma[- ]?glutamyl|谷氨酰转")),
)
_NOT_A_LAB = re.compile(r"ratio|/hdl|percentile|goal|target|z-?score")


def identify(concept: JsonObj | None) -> tuple[str, str, bool] | None:
    """(measurement, LOINC code or "name", identified-by-name) for a code; None if not ours.
    A concept with any LOINC coding is judged by its LOINC codes only."""
    cs = codings(concept)
    loincs = [c.code for c in cs if c.kind == "loinc"]
    for code in loincs:
        hit = codes.LOINC_MEASUREMENTS.get(code)
        if hit:
            return hit[0], code, False
    if loincs:
        return None
    label = concept_text(concept)
    if not label or _NOT_A_LAB.search(label):
        return None
    for measure, pattern in _NAME_FALLBACK:
        if pattern.search(label):
            return measure, "name", True
    return None


def has_code(concept: JsonObj | None, wanted: frozenset[str]) -> bool:
    return any(c.kind == "loinc" and c.code in wanted for c in codings(concept))


def observation_status(resource: JsonObj, ref: str, ctx: MappingContext) -> str | None | bool:
    """The status to keep, or False when the Observation must be ignored."""
    status = status_code(resource, "status")
    if status is None:
        ctx.warn(ref, "no status; read as final")
        return "final"
    if status in READ_STATUSES:
        return status
    if status in _WARN_STATUSES:
        ctx.warn(ref, f"ignored (status {status})")
    return False


def measurements_of(
    resource: JsonObj, ctx: MappingContext
) -> list[tuple[str, Measurement, ObsTime]]:
    """Every measurement one Observation carries (itself and its components)."""
    ref = ctx.ref(resource)
    carriers: list[tuple[JsonObj, tuple[str, str, bool]]] = []
    top = identify(obj(resource, "code"))
    if top:
        carriers.append((resource, top))
    for comp in objs(resource, "component"):
        hit = identify(obj(comp, "code"))
        if hit:
            carriers.append((comp, hit))
    if not carriers:
        return []
    status = observation_status(resource, ref, ctx)
    if status is False:
        return []
    when = observation_time(resource)
    if when.shown is None:
        ctx.warn(ref, "no effective date or issued; its values rank oldest")
    out: list[tuple[str, Measurement, ObsTime]] = []
    for container, (measure, code, by_name) in carriers:
        if by_name:
            ctx.warn(ref, f"no LOINC code; identified by its name as {measure}")
        what = f"{measure} (LOINC {code})" if not by_name else f"{measure} (no LOINC code)"
        raw = read_value(container, ref, ctx, what)
        if raw is None:
            continue
        m = to_measurement(measure, code, raw, ref, when, str(status), ctx)
        if m is not None:
            out.append((measure, m, when))
    return out
