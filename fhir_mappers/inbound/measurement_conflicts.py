"""Results of the latest day that disagree: a record with an HbA1c of 7.2 % and one of
80 mmol/mol (9.5 %) on the same day cannot both be right (a unit or transcription error,
or a second patient's result). The value used stays the latest one; the measurement is
named in ClinicalFacts.conflicting and a warning names the resources (never the values),
so the advice asks for a repeat before acting on it.

Tolerance: HbA1c 0.5 percentage points (well above assay imprecision); other measurements
25 % of the larger value (blood pressure and glucose vary within a day, so only gross
disagreement counts).
"""

from __future__ import annotations

from fhir_mappers.inbound.context import MappingContext
from fhir_mappers.inbound.observations import ObsTime
from models.clinical_facts import Measurement

ABSOLUTE_TOLERANCE: dict[str, float] = {"hba1c": 0.5}
RELATIVE_TOLERANCE = 0.25
# Measured several times a day by design: disagreement there is physiology, not an error.
_EXEMPT = frozenset({"sbp", "dbp", "heart_rate", "fasting_glucose"})


def _disagree(name: str, a: float, b: float) -> bool:
    if name in ABSOLUTE_TOLERANCE:
        return abs(a - b) > ABSOLUTE_TOLERANCE[name]
    big = max(abs(a), abs(b))
    return big > 0 and abs(a - b) / big > RELATIVE_TOLERANCE


def conflicting_measurements(
    candidates: dict[str, list[tuple[Measurement, ObsTime]]],
    chosen: dict[str, Measurement],
    ctx: MappingContext,
) -> tuple[str, ...]:
    out: list[str] = []
    for name, values in sorted(candidates.items()):
        used = chosen.get(name)
        if name in _EXEMPT or used is None or used.date is None or used.comparator:
            continue
        same_day = [
            m for m, _ in values if m is not used and m.date == used.date and m.comparator is None
        ]
        others = [m for m in same_day if _disagree(name, used.value, m.value)]
        if others:
            refs = ", ".join(sorted({m.source for m in others}))
            ctx.warn(
                used.source,
                f"{name}: another result of the same day disagrees ({refs}); "
                f"used {used.source}, confirm before acting on it",
            )
            out.append(name)
    return tuple(out)
