"""Writes cases.jsonl: the evaluation cases written from the guidelines (ADA 2025, CDS
2020): cases_original*.py (the first 51), cases_review.py (the 2025.2 review) and
fhir_cases.py (FHIR bundles, mapped to facts by the inbound mappers).

models/ may not import fhir_mappers, so the mapper is passed in:

    python -c "from fhir_mappers.inbound import clinical_facts_from_fhir as m; \\
        from models.advice.eval.build_cases import main; main(m)"

Without a mapper (python -m models.advice.eval.build_cases) the FHIR cases keep the facts
already in cases.jsonl. tests/models/advice/test_eval_cases.py checks that the stored facts
are what the mapper gives today.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from models.advice.eval import (  # noqa: F401  (importing them registers their cases)
    cases_original,
    cases_original_2,
    cases_review,
)
from models.advice.eval.builders import CASES
from models.advice.eval.fhir_cases import FactsFromFhir, fhir_case_rows

OUT = Path(__file__).with_name("cases.jsonl")


def _stored_fhir_facts() -> dict[str, dict[str, Any]]:
    if not OUT.is_file():
        return {}
    rows = [json.loads(line) for line in OUT.read_text(encoding="utf-8").splitlines() if line]
    return {r["id"]: r["facts"] for r in rows if r.get("fhir") is not None}


def main(facts_from_fhir: FactsFromFhir | None = None) -> None:
    rows = [*CASES, *fhir_case_rows(facts_from_fhir, _stored_fhir_facts())]
    with OUT.open("w", encoding="utf-8") as fh:
        for c in rows:
            fh.write(json.dumps(c, ensure_ascii=False) + "\n")
    print(f"{len(rows)} cases -> {OUT}")


if __name__ == "__main__":
    main()
