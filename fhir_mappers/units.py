"""Unit normalisation for inbound measurements: explicit factors, nothing inferred.

`resolve_unit` turns what an EHR wrote (a UCUM code, a human `unit` string, or both) into one
UCUM unit from a closed list; `to_canonical` converts a value of a measurement into the
canonical unit of models.clinical_facts.CANONICAL_UNITS with the factor written below.
A unit not in the list is unknown, and the caller drops the value with a warning.

Factors (all explicit; molar masses as used by clinical laboratories):
  glucose        mg/dL -> mmol/L   / 18.016   (C6H12O6, 180.16 g/mol)
  cholesterol    mg/dL -> mmol/L   / 38.67    (386.65 g/mol; total, LDL and HDL)
  triglycerides  mg/dL -> mmol/L   / 88.57    (as triolein, 885.7 g/mol)
  g/L of any of these = 100 mg/dL
  HbA1c          mmol/mol (IFCC) -> % (NGSP) = 0.09148 * x + 2.152 (IFCC-NGSP master equation)
  UACR           mg/mmol -> mg/g   * 8.84     (creatinine 113.12 g/mol); g/mol == mg/mmol;
                 ug/mg == mg/g; g/g and mg/mg * 1000
  enzymes        U/L == [IU]/L; ukat/L * 60; nkat/L * 0.06
  eGFR           mL/s/1.73 m2 * 60; "mL/min" is read as mL/min/1.73 m2 (eGFR is always
                 normalised to body surface; many EHRs omit the area from the unit)
  BP             kPa * 7.50062 -> mm[Hg]
  height         m * 100, mm * 0.1, [in_i] * 2.54, [ft_i] * 30.48 -> cm
  weight         g * 0.001, [lb_av] * 0.45359237, [oz_av] * 0.028349523 -> kg

Plausibility bounds (canonical units, inclusive): a value outside is dropped with a
warning, never used. They are wide on purpose -- they catch unit mix-ups and typing
errors (HbA1c 53 "%", weight 1800 kg), not abnormal results:
  hba1c 3-20 %, fasting_glucose 1-50 mmol/L, sbp 50-300 and dbp 20-200 mm[Hg],
  heart_rate 20-300 /min, bmi 10-100 kg/m2, height 30-250 cm, weight 1-400 kg,
  total_cholesterol 0.5-30, ldl 0.1-20, hdl 0.1-6, triglycerides 0.1-150 mmol/L,
  egfr 1-200 mL/min/1.73 m2, uacr 0-30000 mg/g, alt/ast 1-20000 U/L, ggt 1-10000 U/L.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from models.clinical_facts import CANONICAL_UNITS


@dataclass(frozen=True)
class Linear:
    """canonical = value * factor + offset."""

    factor: float
    offset: float = 0.0

    def apply(self, value: float) -> float:
        return value * self.factor + self.offset


_SAME = Linear(1.0)
_CHOL = {"mmol/L": _SAME, "mg/dL": Linear(1 / 38.67), "g/L": Linear(100 / 38.67)}
_ENZYME = {"U/L": _SAME, "[IU]/L": _SAME, "ukat/L": Linear(60.0), "nkat/L": Linear(0.06)}

CONVERSIONS: dict[str, dict[str, Linear]] = {
    "hba1c": {"%": _SAME, "mmol/mol": Linear(0.09148, 2.152)},
    "fasting_glucose": {
        "mmol/L": _SAME,
        "mg/dL": Linear(1 / 18.016),
        "g/L": Linear(100 / 18.016),
    },
    "sbp": {"mm[Hg]": _SAME, "kPa": Linear(7.50062)},
    "dbp": {"mm[Hg]": _SAME, "kPa": Linear(7.50062)},
    "heart_rate": {"/min": _SAME},
    "bmi": {"kg/m2": _SAME},
    "height": {
        "cm": _SAME,
        "m": Linear(100.0),
        "mm": Linear(0.1),
        "[in_i]": Linear(2.54),
        "[ft_i]": Linear(30.48),
    },
    "weight": {
        "kg": _SAME,
        "g": Linear(0.001),
        "[lb_av]": Linear(0.45359237),
        "[oz_av]": Linear(0.028349523125),
    },
    "total_cholesterol": _CHOL,
    "ldl": _CHOL,
    "hdl": _CHOL,
    "triglycerides": {"mmol/L": _SAME, "mg/dL": Linear(1 / 88.57), "g/L": Linear(100 / 88.57)},
    "egfr": {"mL/min/{1.73_m2}": _SAME, "mL/min": _SAME, "mL/s/{1.73_m2}": Linear(60.0)},
    "uacr": {
        "mg/g": _SAME,
        "ug/mg": _SAME,
        "mg/mmol": Linear(8.84),
        "g/mol": Linear(8.84),
        "g/g": Linear(1000.0),
        "mg/mg": Linear(1000.0),
    },
    "alt": _ENZYME,
    "ast": _ENZYME,
    "ggt": _ENZYME,
}
"""Measurement -> {UCUM unit it may arrive in -> conversion to its canonical unit}."""

PLAUSIBLE_RANGES: dict[str, tuple[float, float]] = {
    "hba1c": (3.0, 20.0),
    "fasting_glucose": (1.0, 50.0),
    "sbp": (50.0, 300.0),
    "dbp": (20.0, 200.0),
    "heart_rate": (20.0, 300.0),
    "bmi": (10.0, 100.0),
    "height": (30.0, 250.0),
    "weight": (1.0, 400.0),
    "total_cholesterol": (0.5, 30.0),
    "ldl": (0.1, 20.0),
    "hdl": (0.1, 6.0),
    "triglycerides": (0.1, 150.0),
    "egfr": (1.0, 200.0),
    "uacr": (0.0, 30000.0),
    "alt": (1.0, 20000.0),
    "ast": (1.0, 20000.0),
    "ggt": (1.0, 10000.0),
}
"""Measurement -> inclusive (low, high) in the canonical unit; see the module docstring."""

assert set(CONVERSIONS) == set(CANONICAL_UNITS) == set(PLAUSIBLE_RANGES)

# Normalised spelling (see _normalise) -> UCUM unit.
_SYNONYMS: dict[str, str] = {}


def _add(ucum: str, *spellings: str) -> None:
    for s in (ucum, *spellings):
        _SYNONYMS[_normalise(s)] = ucum


def _normalise(unit: str) -> str:
    s = unit.strip().lower()
    s = s.replace("µ", "u").replace("μ", "u").replace("²", "2").replace("^2", "2")
    s = s.replace("**2", "2").replace("{", "").replace("}", "")
    return re.sub(r"[\s_]+", "", s)


_add("%", "percent", "%hb", "%totalhb", "%oftotalhb", "%ngsp", "%(ngsp)", "ngsp%", "%dcct", "%a1c")
_add("mmol/mol", "mmol/molhb", "mmol/mol(ifcc)", "mmol/molifcc", "ifccmmol/mol")
_add("mg/dL", "mg/100ml", "mg%", "mg/decilitre", "mg/deciliter")
_add("mmol/L", "mmol/litre", "mmol/liter", "mmol/l.", "毫摩尔/升")
_add("g/L", "g/litre", "g/liter")
_add("mm[Hg]", "mmhg", "mm(hg)", "mm hg", "mmhg.", "毫米汞柱")
_add("kPa", "kilopascal")
_add("/min", "1/min", "beats/min", "beat/min", "bpm", "/minute", "beats/minute", "min-1", "次/分")
_add("kg/m2", "kg/(m2)", "kg/m.m", "kg/sqm", "kg/msq")
_add("cm", "centimeter", "centimeters", "centimetre", "centimetres", "厘米")
_add("m", "meter", "meters", "metre", "metres", "米")
_add("mm", "millimeter", "millimeters", "millimetre", "millimetres")
_add("[in_i]", "in", "inch", "inches", '"', "[in_us]", "in_i")
_add("[ft_i]", "ft", "foot", "feet", "[ft_us]")
_add("kg", "kilogram", "kilograms", "kgs", "公斤", "千克")
_add("g", "gram", "grams")
_add("[lb_av]", "lb", "lbs", "pound", "pounds", "lb_av", "#")
_add("[oz_av]", "oz", "ounce", "ounces")
_add(
    "mL/min/{1.73_m2}",
    "ml/min/1.73m2",
    "ml/min/1.73msq",
    "ml/min/1.73sqm",
    "ml/min/1.73 sq m",
    "ml/min/1.73",
    "ml/min/bsa",
    "ml/min/1.73m2bsa",
    "ml/min per 1.73 m2",
    "ml/min/per1.73m2",
    "ml/(min.1.73m2)",
    "ml/min/1,73m2",
    "ml/min/1.73m2.",
)
_add("mL/min", "ml/minute", "cc/min")
_add("mL/s/{1.73_m2}", "ml/s/1.73m2", "ml/sec/1.73m2")
_add("mg/g", "mg/gcreat", "mg/gcr", "mg/gcre", "mg/gcreatinine", "mg/g creat", "mg alb/g creat")
_add("ug/mg", "mcg/mg", "ug/mgcreat", "ug/mgcr", "mcg/mgcreat")
_add("mg/mmol", "mg/mmolcreat", "mg/mmolcr", "mg/mmolcre", "mg/mmolcreatinine")
_add("g/mol", "g/molcreat", "g/molcr")
_add("g/g", "g/gcreat")
_add("mg/mg", "mg/mgcreat")
_add("U/L", "iu/l", "u/litre", "unit/l", "units/l", "u/liter", "iu/litre", "单位/升")
_add("[IU]/L", "[iu]/l")
_add("ukat/L", "ukat/litre", "microkat/l")
_add("nkat/L", "nkat/litre")


def _lookup(unit: str) -> str | None:
    n = _normalise(unit)
    if n in _SYNONYMS:
        return _SYNONYMS[n]
    # UCUM annotations ({creat}, {Hb}, {beats}) carry no meaning for the conversion.
    bare = _normalise(re.sub(r"\{[^}]*\}", "", unit.strip()))
    return _SYNONYMS.get(bare) if bare else None


@dataclass(frozen=True)
class ResolvedUnit:
    by_code: str | None  # UCUM unit named by Quantity.code, when we know it
    by_text: str | None  # UCUM unit named by Quantity.unit, when we know it
    written: str  # what the EHR wrote, for display and warnings

    @property
    def ucum(self) -> str | None:
        """The unit to use (the code's, else the text's); None: unknown."""
        return self.by_code or self.by_text

    @property
    def conflict(self) -> bool:
        """Code and text name two different units (the caller checks whether they convert
        the same way for its measurement, as U/L and [IU]/L do)."""
        return bool(self.by_code and self.by_text and self.by_code != self.by_text)


def resolve_unit(code: str | None, unit: str | None) -> ResolvedUnit | None:
    """The UCUM unit of a Quantity from its `code` (preferred) and `unit` text; None when
    neither is given."""
    if not code and not unit:
        return None
    written = (code or unit or "").strip()
    by_code = _lookup(code) if code else None
    by_text = _lookup(unit) if unit else None
    return ResolvedUnit(by_code, by_text, written)


def same_conversion(measure: str, a: str, b: str) -> bool:
    """Two units that convert to the same canonical value for this measurement."""
    conv = CONVERSIONS[measure]
    return a in conv and b in conv and conv[a] == conv[b]


def accepted_units(measure: str) -> tuple[str, ...]:
    return tuple(CONVERSIONS[measure])


def to_canonical(measure: str, value: float, ucum: str) -> float | None:
    """`value` in `ucum` converted to the measure's canonical unit; None when that unit
    is not one this measure may arrive in (e.g. mg/dL for HbA1c)."""
    conv = CONVERSIONS[measure].get(ucum)
    return conv.apply(value) if conv else None


def plausible(measure: str, canonical_value: float) -> bool:
    low, high = PLAUSIBLE_RANGES[measure]
    return low <= canonical_value <= high


def safe_unit_text(unit: str) -> str:
    """A unit as sent, made safe for a warning line (short, printable)."""
    cleaned = "".join(ch for ch in unit if ch.isprintable())[:24]
    return cleaned or "(blank)"
