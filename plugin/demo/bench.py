"""How fast the inbound mappers are: prints figures, asserts nothing.

    python -m plugin.demo.bench [--repeat 20]

Times clinical_facts_from_fhir on each demo patient (with photos when the shared data is
there: the base64 images are part of what is parsed) and on a synthetic long record (years
of labs and vitals: many Observations, most of them superseded by later ones).
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date, timedelta
from typing import Any

from fhir_mappers.inbound import clinical_facts_from_fhir
from plugin.demo.generate import generate_demo
from plugin.demo.photos import PhotoLibrary

AS_OF = date(2025, 3, 1)


def long_record(observations: int) -> dict[str, Any]:
    """One patient with `observations` lab/vital Observations spread over the years."""
    codes = [("4548-4", "%", 7.1), ("2093-3", "mg/dL", 190.0), ("8480-6", "mm[Hg]", 130.0)]
    codes += [
        ("29463-7", "kg", 80.0),
        ("33914-3", "mL/min/{1.73_m2}", 70.0),
        ("2571-8", "mg/dL", 150.0),
    ]
    entries: list[dict[str, Any]] = [
        {"resource": {"resourceType": "Patient", "id": "p", "gender": "male", "birthDate": "1960"}}
    ]
    for i in range(observations):
        code, unit, value = codes[i % len(codes)]
        when = AS_OF - timedelta(days=i)
        entries.append(
            {
                "resource": {
                    "resourceType": "Observation",
                    "id": f"o{i}",
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                    "subject": {"reference": "Patient/p"},
                    "effectiveDateTime": when.isoformat(),
                    "valueQuantity": {"value": value + (i % 7) / 10, "unit": unit, "code": unit},
                }
            }
        )
    return {"resourceType": "Bundle", "type": "searchset", "entry": entries}


def _time(data: Any, repeat: int) -> tuple[float, float]:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        clinical_facts_from_fhir(data, as_of=AS_OF)
        runs.append(time.perf_counter() - t0)
    return min(runs), statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    library = PhotoLibrary.open()
    print(f"photos: {'shared data' if library else 'none (shared data not found)'}")
    print(f"{'record':<22}{'resources':>10}{'best ms':>10}{'median ms':>11}")
    for demo in generate_demo(as_of=AS_OF, library=library):
        best, median = _time(demo.bundle, args.repeat)
        n = len(demo.bundle["entry"])
        print(f"{demo.scenario.key:<22}{n:>10}{best * 1000:>10.2f}{median * 1000:>11.2f}")
    for n in (1000, 10000):
        best, median = _time(long_record(n), max(3, args.repeat // 5))
        print(f"{f'long record {n}':<22}{n + 1:>10}{best * 1000:>10.1f}{median * 1000:>11.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
