"""Observations -> measurements: every LOINC code, unit, value form, time form and status;
malformed values become warnings, never exceptions."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_mappers import codes
from fhir_mappers.units import to_canonical
from models.clinical_facts import CANONICAL_UNITS


def _sample(measure: str) -> float:
    """A plausible value in the canonical unit."""
    return {
        "hba1c": 7.2,
        "fasting_glucose": 7.1,
        "sbp": 131.0,
        "dbp": 79.0,
        "heart_rate": 71.0,
        "bmi": 27.4,
        "height": 171.0,
        "weight": 80.0,
        "total_cholesterol": 5.1,
        "ldl": 2.9,
        "hdl": 1.2,
        "triglycerides": 1.8,
        "egfr": 64.0,
        "uacr": 35.0,
        "alt": 33.0,
        "ast": 29.0,
        "ggt": 41.0,
    }[measure]


@pytest.mark.parametrize("loinc", sorted(codes.LOINC_MEASUREMENTS))
def test_every_loinc_code_is_read(fhir: Any, loinc: str) -> None:
    measure, default_unit = codes.LOINC_MEASUREMENTS[loinc]
    canonical = CANONICAL_UNITS[measure]
    value = _sample(measure)
    facts = fhir.facts(fhir.obs(loinc, value, canonical, canonical, rid="x"))
    m = facts.measurements[measure]
    expected = 1.02 * value + 0.25 if loinc == codes.LOINC_HBA1C_JDS else value
    assert m.value == pytest.approx(expected, abs=0.01)
    assert (m.unit, m.code, m.source, m.status) == (canonical, loinc, "Observation/x", "final")
    assert m.date is not None and m.date.isoformat() == "2025-01-10"


@pytest.mark.parametrize(
    ("loinc", "value", "unit", "ucum", "measure", "expected"),
    [
        ("4548-4", 7.2, "%", "%", "hba1c", 7.2),
        ("59261-8", 55, "mmol/mol", "mmol/mol", "hba1c", 7.18),
        ("4548-4", 55, "mmol/mol", None, "hba1c", 7.18),  # IFCC value under the % code
        ("62388-4", 6.9, "%", "%", "hba1c", 7.29),  # JDS -> NGSP
        ("1558-6", 126, "mg/dL", "mg/dL", "fasting_glucose", 6.99),
        ("14771-0", 7.0, "mmol/L", "mmol/L", "fasting_glucose", 7.0),
        ("1558-6", 7.0, "mmol/L", None, "fasting_glucose", 7.0),  # SI value under a mass code
        ("2093-3", 200, "mg/dL", "mg/dL", "total_cholesterol", 5.17),
        ("13457-7", 100, "mg/dL", "mg/dL", "ldl", 2.59),
        ("18262-6", 70, "mg/dl", None, "ldl", 1.81),
        ("2085-9", 50, "mg/dL", "mg/dL", "hdl", 1.29),
        ("2571-8", 150, "mg/dL", "mg/dL", "triglycerides", 1.69),
        ("14927-8", 1.7, "mmol/L", "mmol/L", "triglycerides", 1.7),
        ("2571-8", 1.5, "g/L", None, "triglycerides", 1.69),
        ("9318-7", 30, "mg/g", "mg/g", "uacr", 30.0),
        ("9318-7", 3.4, "mg/mmol", "mg/mmol", "uacr", 30.06),
        ("14959-1", 3.4, "mg/mmol{creat}", None, "uacr", 30.06),
        ("32294-1", 30, "mg/g{creat}", "mg/g{creat}", "uacr", 30.0),
        ("14585-4", 3.0, "mg/mmol", None, "uacr", 26.52),
        ("33914-3", 61, "mL/min/1.73m2", None, "egfr", 61.0),
        ("62238-1", 61, "mL/min/{1.73_m2}", "mL/min/{1.73_m2}", "egfr", 61.0),
        ("98979-8", 61, "mL/min", None, "egfr", 61.0),
        ("1742-6", 45, "U/L", "U/L", "alt", 45.0),
        ("1920-8", 45, "IU/L", "[IU]/L", "ast", 45.0),  # text and code differ, same meaning
        ("2324-2", 0.9, "µkat/L", "ukat/L", "ggt", 54.0),
        ("29463-7", 176, "lb", "[lb_av]", "weight", 79.83),
        ("29463-7", 80000, "g", "g", "weight", 80.0),
        ("8302-2", 68, "in", "[in_i]", "height", 172.72),
        ("8302-2", 1.72, "m", "m", "height", 172.0),
        ("39156-5", 27.3, "kg/m2", "kg/m2", "bmi", 27.3),
        ("8867-4", 72, "beats/minute", None, "heart_rate", 72.0),
        ("8867-4", 72, None, "/min", "heart_rate", 72.0),
        ("8480-6", 135, "mmHg", None, "sbp", 135.0),
        ("8462-4", 85, "mm[Hg]", "mm[Hg]", "dbp", 85.0),
    ],
)
def test_units_are_converted_with_the_original_kept(
    fhir: Any,
    loinc: str,
    value: float,
    unit: str | None,
    ucum: str | None,
    measure: str,
    expected: float,
) -> None:
    facts = fhir.facts(fhir.obs(loinc, value, unit, ucum))
    m = facts.measurements[measure]
    assert m.value == pytest.approx(expected, abs=0.01)
    assert m.unit == CANONICAL_UNITS[measure]
    if m.original_unit is not None:
        assert m.original_value == value
    assert facts.warnings == ()


@pytest.mark.parametrize("panel", ["85354-9", "55284-4", "35094-2"])
def test_blood_pressure_panels(fhir: Any, panel: str) -> None:
    obs = fhir.obs(
        panel,
        rid="bp",
        components=[fhir.component("8480-6", 142), fhir.component("8462-4", 91, "mmHg", None)],
    )
    facts = fhir.facts(obs)
    assert facts.value("sbp") == 142 and facts.value("dbp") == 91
    assert facts.measurements["sbp"].source == "Observation/bp"
    assert facts.measurements["sbp"].code == "8480-6"


def test_vital_signs_panel_with_components_of_several_kinds(fhir: Any) -> None:
    obs = fhir.obs(
        "85353-1",
        components=[
            fhir.component("8480-6", 120),
            fhir.component("8462-4", 70),
            fhir.component("8867-4", 64, "/min", "/min"),
            fhir.component("9279-1", 16, "/min", "/min"),  # respiratory rate: not ours
        ],
    )
    facts = fhir.facts(obs)
    assert (facts.value("sbp"), facts.value("dbp"), facts.value("heart_rate")) == (120, 70, 64)


@pytest.mark.parametrize(
    ("value_string", "value", "comparator"),
    [
        ("7.2", 7.2, None),
        (" 7.2 ", 7.2, None),
        ("7,2", 7.2, None),
        ("<5", 5.0, "<"),
        ("< 5", 5.0, "<"),
        ("<=5", 5.0, "<="),
        ("≤5", 5.0, "<="),
        (">14", 14.0, ">"),
        ("≥14", 14.0, ">="),
        ("7.2 %", 7.2, None),
        ("7.2%", 7.2, None),
        ("7.2 H", 7.2, None),
        ("7.2 (high)", 7.2, None),
        ("7.2*", 7.2, None),
    ],
)
def test_value_strings(fhir: Any, value_string: str, value: float, comparator: str | None) -> None:
    facts = fhir.facts(fhir.obs("4548-4", value_string=value_string))
    m = facts.measurements["hba1c"]
    assert (m.value, m.comparator) == (value, comparator)


def test_value_string_with_its_unit(fhir: Any) -> None:
    facts = fhir.facts(
        fhir.obs("14771-0", value_string="6,1 mmol/L"),
        fhir.obs("9318-7", value_string="<3 mg/mmol"),
        fhir.obs("1742-6", value_string="1,234 U/L"),
    )
    assert facts.value("fasting_glucose") == 6.1
    uacr = facts.measurements["uacr"]
    assert uacr.value == pytest.approx(26.52) and uacr.comparator == "<"
    assert facts.value("alt") == 1234


def test_egfr_bound_without_unit_uses_the_codes_unit(fhir: Any) -> None:
    facts = fhir.facts(fhir.obs("98979-8", value_string=">90"))
    m = facts.measurements["egfr"]
    assert (m.value, m.comparator, m.unit) == (90.0, ">", "mL/min/{1.73_m2}")
    assert any("no unit; read as mL/min/{1.73_m2}" in w for w in facts.warnings)


def test_comparator_on_value_quantity(fhir: Any) -> None:
    obs = fhir.obs("9318-7")
    obs["valueQuantity"] = {"value": 30, "comparator": "<", "unit": "mg/g"}
    assert fhir.facts(obs).measurements["uacr"].comparator == "<"


def test_value_integer(fhir: Any) -> None:
    facts = fhir.facts(fhir.obs("8867-4", valueInteger=66))
    assert facts.value("heart_rate") == 66
    assert any("no unit; read as /min" in w for w in facts.warnings)


@pytest.mark.parametrize("loinc", ["8302-2", "29463-7", "35184-1", "32294-1", "30000-4"])
def test_no_unit_and_an_ambiguous_code_drops_the_value(fhir: Any, loinc: str) -> None:
    facts = fhir.facts(fhir.obs(loinc, 70, rid="u"))
    assert facts.measurements == {}
    assert any("no unit and the code allows several; dropped" in w for w in facts.warnings)


@pytest.mark.parametrize(
    ("loinc", "unit", "message"),
    [
        ("1558-6", "mg/dl/h", "unknown unit 'mg/dl/h'"),
        ("4548-4", "mg/dL", "'mg/dL' is not a unit of hba1c"),
        ("9318-7", "mg/L", "unknown unit 'mg/L'"),
        ("29463-7", "stone", "unknown unit 'stone'"),
        ("8867-4", "kg", "'kg' is not a unit of heart_rate"),
    ],
)
def test_unknown_or_wrong_units_are_dropped_with_a_warning(
    fhir: Any, loinc: str, unit: str, message: str
) -> None:
    facts = fhir.facts(fhir.obs(loinc, 100, unit, rid="w"))
    assert facts.measurements == {}
    assert any(w.startswith("Observation/w:") and message in w for w in facts.warnings)


def test_disagreeing_unit_code_and_text_drop_the_value(fhir: Any) -> None:
    facts = fhir.facts(fhir.obs("14771-0", 7.0, "mg/dL", "mmol/L"))
    assert facts.measurements == {}
    assert any("unit code and unit text disagree" in w for w in facts.warnings)


def test_non_ucum_unit_codes_fall_back_to_the_unit_text(fhir: Any) -> None:
    obs = fhir.obs("29463-7")
    obs["valueQuantity"] = {
        "value": 80,
        "unit": "kg",
        "system": "http://snomed.info/sct",
        "code": "258683005",
    }
    assert fhir.facts(obs).value("weight") == 80


@pytest.mark.parametrize(
    ("loinc", "value", "unit"),
    [
        ("4548-4", 53, "%"),  # IFCC number sent as %
        ("4548-4", 1.5, "%"),
        ("8480-6", 1380, "mm[Hg]"),
        ("8462-4", 5, "mm[Hg]"),
        ("29463-7", 1800, "kg"),
        ("8302-2", 17, "m"),
        ("1558-6", 2000, "mg/dL"),
        ("2093-3", 0.01, "mmol/L"),
        ("33914-3", 0, "mL/min/{1.73_m2}"),
        ("1742-6", 0, "U/L"),
        ("39156-5", 270, "kg/m2"),
        ("8867-4", 400, "/min"),
        ("9318-7", -1, "mg/g"),
    ],
)
def test_implausible_values_are_dropped_with_a_warning(
    fhir: Any, loinc: str, value: float, unit: str
) -> None:
    facts = fhir.facts(fhir.obs(loinc, value, unit, unit))
    assert facts.measurements == {}
    assert any("outside plausible range" in w for w in facts.warnings)


def test_warnings_do_not_repeat_values_or_names(fhir: Any) -> None:
    patient = fhir.patient() | {"name": [{"family": "Zyxwvut", "given": ["Qwerty"]}]}
    code = {"coding": [{"system": "http://loinc.org", "code": "8480-6"}], "text": "Zyxwvut BP"}
    from fhir_mappers.inbound import clinical_facts_from_fhir

    facts = clinical_facts_from_fhir(
        fhir.bundle(
            patient, fhir.obs(code, 1387.77, "mmHg"), fhir.obs("1558-6", 4321.5, "furlong")
        ),
        as_of=fhir.AS_OF,
    )
    assert len(facts.warnings) == 2
    joined = " ".join(facts.warnings)
    assert "1387" not in joined and "4321" not in joined and "Zyxwvut" not in joined


def test_latest_value_wins_across_codes_and_units(fhir: Any) -> None:
    facts = fhir.facts(
        fhir.obs("4548-4", 9.1, "%", "%", when="2024-01-10", rid="old"),
        fhir.obs("59261-8", 53, "mmol/mol", "mmol/mol", when="2025-03-02", rid="new"),
        fhir.obs("17856-6", 8.0, "%", "%", when="2024-11-30", rid="mid"),
    )
    m = facts.measurements["hba1c"]
    assert m.source == "Observation/new" and m.value == pytest.approx(7.0, abs=0.01)


def test_time_forms(fhir: Any) -> None:
    period = fhir.obs("4548-4", 7.0, "%", when=None, rid="period")
    period["effectivePeriod"] = {"start": "2025-02-01T08:00:00Z", "end": "2025-02-01T09:00:00Z"}
    issued = fhir.obs("4548-4", 8.0, "%", when=None, rid="issued", issued="2025-03-01T12:00:00Z")
    instant = fhir.obs("4548-4", 6.0, "%", when=None, rid="inst")
    instant["effectiveInstant"] = "2025-01-01T00:00:00Z"
    facts = fhir.facts(period, issued, instant)
    m = facts.measurements["hba1c"]
    assert m.source == "Observation/issued" and m.date is not None
    assert m.date.isoformat() == "2025-03-01"


def test_same_time_ties_are_broken_by_issued_then_last_updated(fhir: Any) -> None:
    a = fhir.obs("4548-4", 7.0, "%", when="2025-02-01", rid="a", issued="2025-02-02T10:00:00Z")
    b = fhir.obs("4548-4", 7.5, "%", when="2025-02-01", rid="b", issued="2025-02-03T10:00:00Z")
    assert fhir.facts(a, b).measurements["hba1c"].source == "Observation/b"
    c = fhir.obs(
        "4548-4", 7.0, "%", when="2025-02-01", rid="c", meta={"lastUpdated": "2025-02-09T00:00:00Z"}
    )
    d = fhir.obs(
        "4548-4", 7.5, "%", when="2025-02-01", rid="d", meta={"lastUpdated": "2025-02-04T00:00:00Z"}
    )
    assert fhir.facts(c, d).measurements["hba1c"].source == "Observation/c"


def test_timezones_order_instants_correctly(fhir: Any) -> None:
    early = fhir.obs("4548-4", 7.0, "%", when="2025-02-01T23:30:00-05:00", rid="ny")  # 04:30Z
    late = fhir.obs("4548-4", 7.5, "%", when="2025-02-02T08:00:00+08:00", rid="bj")  # 00:00Z
    m = fhir.facts(early, late).measurements["hba1c"]
    assert m.source == "Observation/ny"
    assert m.date is not None and m.date.isoformat() == "2025-02-01"  # local date as written


def test_undated_values_rank_oldest(fhir: Any) -> None:
    undated = fhir.obs("4548-4", 9.0, "%", when=None, rid="undated")
    dated = fhir.obs("4548-4", 7.0, "%", when="2020-01-01", rid="dated")
    facts = fhir.facts(undated, dated)
    assert facts.measurements["hba1c"].source == "Observation/dated"
    assert any("Observation/undated: no effective date" in w for w in facts.warnings)


@pytest.mark.parametrize("status", ["preliminary", "final", "amended", "corrected"])
def test_result_statuses_are_kept(fhir: Any, status: str) -> None:
    m = fhir.facts(fhir.obs("4548-4", 7.0, "%", status=status)).measurements["hba1c"]
    assert m.status == status


@pytest.mark.parametrize(
    ("status", "warned"),
    [("registered", False), ("cancelled", True), ("entered-in-error", True), ("unknown", True)],
)
def test_other_statuses_are_ignored(fhir: Any, status: str, warned: bool) -> None:
    newer = fhir.obs("4548-4", 12.0, "%", status=status, when="2025-05-01", rid="bad")
    older = fhir.obs("4548-4", 7.0, "%", when="2025-01-01")
    facts = fhir.facts(newer, older)
    assert facts.value("hba1c") == 7.0
    assert (f"Observation/bad: ignored (status {status})" in facts.warnings) is warned


def test_missing_status_is_read_as_final_with_a_warning(fhir: Any) -> None:
    facts = fhir.facts(fhir.obs("4548-4", 7.0, "%", status=None, rid="s"))
    assert facts.value("hba1c") == 7.0
    assert "Observation/s: no status; read as final" in facts.warnings


def test_several_codings_loinc_and_local(fhir: Any) -> None:
    code = {
        "coding": [
            {"system": "urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.14", "code": "A1C"},
            {"system": "http://loinc.org", "code": "4548-4", "display": "HbA1c"},
        ],
        "text": "HGB A1C",
    }
    assert fhir.facts(fhir.obs(code, 6.8, "%")).value("hba1c") == 6.8


def test_loinc_system_variants(fhir: Any) -> None:
    for system in ("http://loinc.org/", "https://loinc.org", "urn:oid:2.16.840.1.113883.6.1"):
        code = {"coding": [{"system": system, "code": "4548-4"}]}
        assert fhir.facts(fhir.obs(code, 6.8, "%")).value("hba1c") == 6.8


def test_coding_without_system_but_loinc_shape(fhir: Any) -> None:
    code = {"coding": [{"code": "4548-4", "display": "HbA1c"}]}
    assert fhir.facts(fhir.obs(code, 6.8, "%")).value("hba1c") == 6.8


@pytest.mark.parametrize(
    ("text", "measure"),
    [
        ("Hemoglobin A1c", "hba1c"),
        ("HbA1c", "hba1c"),
        ("糖化血红蛋白", "hba1c"),
        ("eGFR (CKD-EPI)", "egfr"),
        ("LDL Cholesterol", "ldl"),
        ("Triglycerides", "triglycerides"),
        ("Fasting Glucose", "fasting_glucose"),
    ],
)
def test_local_codes_only_fall_back_to_the_name(fhir: Any, text: str, measure: str) -> None:
    code = {"coding": [{"system": "urn:oid:1.2.3", "code": "LOCAL1"}], "text": text}
    canonical = CANONICAL_UNITS[measure]
    facts = fhir.facts(fhir.obs(code, _sample(measure), canonical, canonical))
    assert facts.measurements[measure].code is None
    assert any(f"identified by its name as {measure}" in w for w in facts.warnings)


@pytest.mark.parametrize(
    "text", ["Glucose", "Cholesterol/HDL ratio", "BMI percentile", "HbA1c goal"]
)
def test_ambiguous_names_are_not_guessed(fhir: Any, text: str) -> None:
    code = {"coding": [{"system": "urn:oid:1.2.3", "code": "L"}], "text": text}
    assert fhir.facts(fhir.obs(code, 5.0, "mmol/L")).measurements == {}


def test_random_glucose_is_not_fasting_glucose(fhir: Any) -> None:
    assert fhir.facts(fhir.obs("2345-7", 7.0, "mmol/L", "mmol/L")).measurements == {}


def test_data_absent_reason_is_silent(fhir: Any) -> None:
    obs = fhir.obs("4548-4", dataAbsentReason={"text": "specimen haemolysed"})
    facts = fhir.facts(obs)
    assert facts.measurements == {} and facts.warnings == ()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("valueQuantity", {"value": "abc", "unit": "%"}, "valueQuantity has no numeric value"),
        ("valueQuantity", {"unit": "%"}, "valueQuantity has no numeric value"),
        ("valueQuantity", {"value": True, "unit": "%"}, "valueQuantity has no numeric value"),
        (
            "valueQuantity",
            {"value": float("nan"), "unit": "%"},
            "valueQuantity has no numeric value",
        ),
        ("valueString", "Negative", "valueString is not a number"),
        ("valueString", 7.2, "valueString is not a number"),
        ("valueInteger", "seven", "valueInteger is not a number"),
        ("valueCodeableConcept", {"text": "High"}, "value is not numeric"),
        ("valueBoolean", True, "value is not numeric"),
    ],
)
def test_malformed_values_become_warnings(fhir: Any, field: str, value: Any, message: str) -> None:
    obs = fhir.obs("4548-4", rid="bad")
    obs[field] = value
    facts = fhir.facts(obs)
    assert facts.measurements == {}
    assert any(w.startswith("Observation/bad:") and message in w for w in facts.warnings)


def test_numeric_strings_in_value_quantity_are_accepted(fhir: Any) -> None:
    obs = fhir.obs("4548-4")
    obs["valueQuantity"] = {"value": "7.4", "unit": "%"}
    assert fhir.facts(obs).value("hba1c") == 7.4


def test_no_value_at_all_warns(fhir: Any) -> None:
    facts = fhir.facts(fhir.obs("4548-4", rid="nv"))
    assert "Observation/nv: hba1c (LOINC 4548-4): no value; dropped" in facts.warnings


@pytest.mark.parametrize(
    "broken",
    [
        {"code": "4548-4"},
        {"code": {"coding": "4548-4"}},
        {"code": {"coding": [None, 5, "x"]}},
        {"component": "not a list"},
        {"component": [None, {"code": None}]},
        {"effectiveDateTime": 20250101},
        {"effectivePeriod": "2025"},
        {"issued": {"x": 1}},
        {"meta": "x"},
        {"status": 3},
        {"valueQuantity": [7.2]},
        {"subject": "Patient/p1"},
    ],
)
def test_wrong_json_types_never_raise(fhir: Any, broken: dict[str, Any]) -> None:
    obs = fhir.obs("4548-4", 7.2, "%") | broken
    fhir.facts(obs)  # must not raise


def test_bmi_is_computed_from_weight_and_a_height_near_it(fhir: Any) -> None:
    facts = fhir.facts(
        fhir.obs("29463-7", 176, "lb", "[lb_av]", when="2025-04-01", rid="w"),
        fhir.obs("8302-2", 68, "in", "[in_i]", when="2024-10-01", rid="h"),
    )
    bmi = facts.measurements["bmi"]
    kg = to_canonical("weight", 176, "[lb_av]")
    cm = to_canonical("height", 68, "[in_i]")
    assert kg is not None and cm is not None
    assert bmi.value == pytest.approx(kg / (cm / 100) ** 2, abs=0.05)
    assert bmi.derived_from == ("Observation/w", "Observation/h")
    assert bmi.date is not None and bmi.date.isoformat() == "2025-04-01"


def test_bmi_is_not_computed_from_a_distant_height(fhir: Any) -> None:
    facts = fhir.facts(
        fhir.obs("29463-7", 80, "kg", "kg", when="2025-04-01"),
        fhir.obs("8302-2", 170, "cm", "cm", when="2022-01-01"),
    )
    assert "bmi" not in facts.measurements


def test_bmi_for_children_needs_a_height_within_a_month(fhir: Any) -> None:
    child = fhir.patient(birth="2015-01-01")
    weight = fhir.obs("29463-7", 30, "kg", "kg", when="2025-04-01")
    far = fhir.obs("8302-2", 130, "cm", "cm", when="2025-01-01")
    near = fhir.obs("8302-2", 131, "cm", "cm", when="2025-03-20")
    from fhir_mappers.inbound import clinical_facts_from_fhir

    no_bmi = clinical_facts_from_fhir(fhir.bundle(child, weight, far), as_of=fhir.AS_OF)
    assert "bmi" not in no_bmi.measurements
    bmi = clinical_facts_from_fhir(fhir.bundle(child, weight, far, near), as_of=fhir.AS_OF)
    assert bmi.value("bmi") == pytest.approx(30 / 1.31**2, abs=0.05)


def test_a_reported_bmi_as_recent_as_the_weight_wins(fhir: Any) -> None:
    facts = fhir.facts(
        fhir.obs("39156-5", 25.0, "kg/m2", "kg/m2", when="2025-04-01", rid="bmi"),
        fhir.obs("29463-7", 90, "kg", "kg", when="2025-04-01"),
        fhir.obs("8302-2", 170, "cm", "cm", when="2025-04-01"),
    )
    assert facts.measurements["bmi"].source == "Observation/bmi"
    newer_weight = fhir.facts(
        fhir.obs("39156-5", 25.0, "kg/m2", "kg/m2", when="2024-04-01"),
        fhir.obs("29463-7", 90, "kg", "kg", when="2025-04-01"),
        fhir.obs("8302-2", 170, "cm", "cm", when="2025-04-01"),
    )
    assert newer_weight.measurements["bmi"].derived_from != ()
    assert newer_weight.value("bmi") == pytest.approx(31.1, abs=0.05)


def test_entered_in_error_lab_does_not_hide_the_real_one(fhir: Any) -> None:
    facts = fhir.facts(
        fhir.obs("4548-4", 7.2, "%", "%", when="2025-01-01", rid="ok"),
        fhir.obs("4548-4", 17.5, "%", "%", when="2025-05-01", status="entered-in-error"),
    )
    assert facts.measurements["hba1c"].source == "Observation/ok"
