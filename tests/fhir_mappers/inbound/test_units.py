"""fhir_mappers.units: every spelling we accept resolves to its UCUM unit; every factor is
the one documented; bounds are inclusive."""

from __future__ import annotations

import pytest

from fhir_mappers.units import (
    CONVERSIONS,
    PLAUSIBLE_RANGES,
    plausible,
    resolve_unit,
    same_conversion,
    to_canonical,
)
from models.clinical_facts import CANONICAL_UNITS


@pytest.mark.parametrize(
    ("written", "ucum"),
    [
        ("%", "%"),
        ("% {Hb}", "%"),
        ("%{HbA1c}", "%"),
        ("mmol/mol", "mmol/mol"),
        ("mmol/mol{Hb}", "mmol/mol"),
        ("mg/dL", "mg/dL"),
        ("mg/dl", "mg/dL"),
        ("MG/DL", "mg/dL"),
        ("mmol/L", "mmol/L"),
        ("mmol/l", "mmol/L"),
        ("mg/g", "mg/g"),
        ("mg/g{creat}", "mg/g"),
        ("mg/g creat", "mg/g"),
        ("ug/mg", "ug/mg"),
        ("µg/mg", "ug/mg"),
        ("mg/mmol", "mg/mmol"),
        ("mg/mmol{creat}", "mg/mmol"),
        ("mL/min/{1.73_m2}", "mL/min/{1.73_m2}"),
        ("mL/min/1.73m2", "mL/min/{1.73_m2}"),
        ("mL/min/1.73 m2", "mL/min/{1.73_m2}"),
        ("ml/min/1.73m²", "mL/min/{1.73_m2}"),
        ("mL/min/1.73m^2", "mL/min/{1.73_m2}"),
        ("mL/min", "mL/min"),
        ("U/L", "U/L"),
        ("IU/L", "U/L"),
        ("[IU]/L", "[IU]/L"),
        ("ukat/L", "ukat/L"),
        ("µkat/L", "ukat/L"),
        ("kg/m2", "kg/m2"),
        ("kg/m²", "kg/m2"),
        ("mm[Hg]", "mm[Hg]"),
        ("mmHg", "mm[Hg]"),
        ("mm Hg", "mm[Hg]"),
        ("/min", "/min"),
        ("{beats}/min", "/min"),
        ("beats/minute", "/min"),
        ("bpm", "/min"),
        ("[lb_av]", "[lb_av]"),
        ("lb", "[lb_av]"),
        ("lbs", "[lb_av]"),
        ("[in_i]", "[in_i]"),
        ("in", "[in_i]"),
        ("kg", "kg"),
        ("g", "g"),
        ("cm", "cm"),
        ("m", "m"),
        ("[ft_i]", "[ft_i]"),
        ("g/L", "g/L"),
        ("kPa", "kPa"),
    ],
)
def test_spellings_resolve_to_ucum(written: str, ucum: str) -> None:
    by_code = resolve_unit(written, None)
    by_text = resolve_unit(None, written)
    assert by_code is not None and by_code.ucum == ucum
    assert by_text is not None and by_text.ucum == ucum


@pytest.mark.parametrize("written", ["mg/dl/h", "furlongs", "mmol", "%%", "mg", "1", "{ratio}"])
def test_unknown_units_resolve_to_none(written: str) -> None:
    r = resolve_unit(None, written)
    assert r is not None and r.ucum is None


def test_no_unit_at_all_is_none() -> None:
    assert resolve_unit(None, None) is None
    assert resolve_unit("", "") is None


def test_code_wins_and_conflicts_are_reported() -> None:
    r = resolve_unit("mmol/L", "mmol/L")
    assert r is not None and r.ucum == "mmol/L" and not r.conflict
    r = resolve_unit("mg/dL", "mmol/L")
    assert r is not None and r.conflict
    r = resolve_unit("unknown-thing", "mg/dL")
    assert r is not None and r.ucum == "mg/dL" and not r.conflict


@pytest.mark.parametrize(
    ("measure", "value", "unit", "expected"),
    [
        ("hba1c", 7.0, "%", 7.0),
        ("hba1c", 53.0, "mmol/mol", 53 * 0.09148 + 2.152),
        ("hba1c", 48.0, "mmol/mol", 6.543),  # 48 mmol/mol is the 6.5 % diagnostic threshold
        ("fasting_glucose", 126.0, "mg/dL", 126 / 18.016),
        ("fasting_glucose", 7.0, "mmol/L", 7.0),
        ("fasting_glucose", 1.26, "g/L", 126 / 18.016),
        ("total_cholesterol", 200.0, "mg/dL", 200 / 38.67),
        ("ldl", 100.0, "mg/dL", 100 / 38.67),
        ("hdl", 40.0, "mg/dL", 40 / 38.67),
        ("ldl", 1.0, "g/L", 100 / 38.67),
        ("triglycerides", 150.0, "mg/dL", 150 / 88.57),
        ("triglycerides", 1.5, "g/L", 150 / 88.57),
        ("uacr", 3.0, "mg/mmol", 26.52),
        ("uacr", 30.0, "mg/g", 30.0),
        ("uacr", 30.0, "ug/mg", 30.0),
        ("uacr", 3.0, "g/mol", 26.52),
        ("uacr", 0.03, "g/g", 30.0),
        ("alt", 40.0, "U/L", 40.0),
        ("ast", 40.0, "[IU]/L", 40.0),
        ("ggt", 1.0, "ukat/L", 60.0),
        ("alt", 500.0, "nkat/L", 30.0),
        ("egfr", 60.0, "mL/min/{1.73_m2}", 60.0),
        ("egfr", 60.0, "mL/min", 60.0),
        ("egfr", 1.0, "mL/s/{1.73_m2}", 60.0),
        ("sbp", 16.0, "kPa", 120.01),
        ("height", 70.0, "[in_i]", 177.8),
        ("height", 1.75, "m", 175.0),
        ("height", 6.0, "[ft_i]", 182.88),
        ("weight", 220.0, "[lb_av]", 99.79),
        ("weight", 70000.0, "g", 70.0),
        ("weight", 16.0, "[oz_av]", 0.4536),
    ],
)
def test_conversions_use_the_documented_factors(
    measure: str, value: float, unit: str, expected: float
) -> None:
    got = to_canonical(measure, value, unit)
    assert got == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize(
    ("measure", "unit"),
    [
        ("hba1c", "mg/dL"),
        ("fasting_glucose", "%"),
        ("uacr", "mmol/L"),
        ("bmi", "kg"),
        ("egfr", "U/L"),
    ],
)
def test_a_unit_of_another_measurement_is_refused(measure: str, unit: str) -> None:
    assert to_canonical(measure, 1.0, unit) is None


def test_every_measurement_has_a_canonical_unit_a_conversion_and_bounds() -> None:
    assert set(CONVERSIONS) == set(CANONICAL_UNITS) == set(PLAUSIBLE_RANGES)
    for measure, canonical in CANONICAL_UNITS.items():
        assert to_canonical(measure, 10.0, canonical) == 10.0


@pytest.mark.parametrize("measure", sorted(PLAUSIBLE_RANGES))
def test_bounds_are_inclusive(measure: str) -> None:
    low, high = PLAUSIBLE_RANGES[measure]
    assert plausible(measure, low) and plausible(measure, high)
    assert not plausible(measure, high * 1.01 + 0.01)
    assert not plausible(measure, low - 0.01 - abs(low) * 0.01)


def test_same_conversion() -> None:
    assert same_conversion("ast", "U/L", "[IU]/L")
    assert same_conversion("egfr", "mL/min", "mL/min/{1.73_m2}")
    assert not same_conversion("fasting_glucose", "mg/dL", "mmol/L")
    assert not same_conversion("hba1c", "%", "kg")
