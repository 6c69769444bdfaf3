"""The evaluation file: every case loads, the FHIR cases' stored facts are what the inbound
mappers give today, and the whole path (bundle -> facts -> advice) meets every case."""

from __future__ import annotations

import json
from datetime import date
from importlib import resources
from pathlib import Path

import pytest

from fhir_mappers.inbound import clinical_facts_from_fhir
from models.advice import Engine, Lang
from models.advice.evaluate import EvalCase, evaluate, load_cases

CASES = Path(str(resources.files("models.advice") / "eval" / "cases.jsonl"))


@pytest.fixture(scope="module")
def cases() -> list[EvalCase]:
    return load_cases(CASES)


def test_case_file_size_and_ids(cases: list[EvalCase]) -> None:
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)) >= 87
    assert ids[0] == "t1-young-well"  # the CLI tests read the first line
    assert sum(c.fhir is not None for c in cases) >= 10


def test_stored_facts_are_what_the_mapper_gives_today(cases: list[EvalCase]) -> None:
    for case in (c for c in cases if c.fhir is not None):
        as_of = date.fromisoformat(case.facts["as_of"])
        mapped = clinical_facts_from_fhir(case.fhir, as_of=as_of)
        assert mapped.model_dump(mode="json", exclude_defaults=True) == case.facts, (
            f"{case.id}: stale facts; rebuild cases.jsonl (models/advice/eval/build_cases.py)"
        )


@pytest.mark.parametrize("lang", list(Lang))
def test_whole_path_from_fhir_meets_every_case(cases: list[EvalCase], lang: Lang) -> None:
    report = evaluate(
        cases, engine=Engine.RULES, lang=lang, facts_from_fhir=clinical_facts_from_fhir
    )
    failures = [r for r in report.results if r.missing or r.inappropriate]
    assert not failures, [(r.case_id, r.missing, r.inappropriate) for r in failures]


def test_the_fhir_record_is_what_decides(cases: list[EvalCase]) -> None:
    """Take the address out of the Chinese case: the mapped facts change, so does the advice."""
    case = next(c for c in cases if c.id == "fhir-bmi-24.5-address-china")
    assert case.fhir is not None
    bundle = json.loads(json.dumps(case.fhir))
    resources_ = [e["resource"] for e in bundle["entry"]]
    patient = next(r for r in resources_ if r["resourceType"] == "Patient")
    del patient["address"]
    changed = case.model_copy(update={"fhir": bundle})
    report = evaluate(
        [changed], engine=Engine.RULES, lang=Lang.EN, facts_from_fhir=clinical_facts_from_fhir
    )
    assert report.results[0].missing == ["WT-LOSS-CHINESE"]
