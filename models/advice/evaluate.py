"""Evaluation on written cases, DeepDR-LLM's two measures: % of cases with no missing
content and % with no inappropriate content, per language and engine.

A case (one JSONL line):
    {"id": "...", "description": "...", "facts": <ClinicalFacts>, "grading": <PatientGrading|null>,
     "context": <AdviceContext|null>,
     "must_include": ["EYE-REFER", "re:(?i)ophthalmolog", "re.zh:眼科"],
     "must_not_include": ["MED-METFORMIN-START", "re:(?i)stop.{0,20}statin"]}
An entry is a rule id (language-independent: the draft must / must not contain that rule's
item), or a regular expression over the draft's text: `re:` for every language, `re.en:` /
`re.zh:` for one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.advice.engine import render_text
from models.advice.eval.fhir_cases import FactsFromFhir
from models.advice.inputs import AdviceInputError, parse_advise_input
from models.advice.kb import RULE_ID
from models.advice.llm.base import TextGenerator
from models.advice.service import advise
from models.advice.types import AdviceDraft, Engine, Lang


class EvalCaseError(ValueError):
    """A case file line is malformed; the message names the line and field."""


class EvalCase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    description: str = ""
    facts: dict[str, Any]
    grading: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    must_include: tuple[str, ...] = ()
    must_not_include: tuple[str, ...] = Field(default=())
    # The FHIR record the facts were mapped from (fhir_cases.py), when the case starts there.
    fhir: dict[str, Any] | None = None


def load_cases(path: Path) -> list[EvalCase]:
    cases: list[EvalCase] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = EvalCase.model_validate(json.loads(line))
            parse_advise_input(
                {"facts": case.facts, "grading": case.grading, "context": case.context}
            )
            for entry in (*case.must_include, *case.must_not_include):
                _check_entry(entry)
        except json.JSONDecodeError as exc:
            raise EvalCaseError(f"line {n}: not valid JSON ({exc.msg})") from None
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            raise EvalCaseError(f"line {n}: {loc}: {err['msg']}") from None
        except (AdviceInputError, re.error, ValueError) as exc:
            raise EvalCaseError(f"line {n}: {exc}") from None
        cases.append(case)
    if not cases:
        raise EvalCaseError("no cases in the file")
    return cases


def _check_entry(entry: str) -> None:
    if entry.startswith(("re:", "re.en:", "re.zh:")):
        re.compile(entry.split(":", 1)[1])
    elif not RULE_ID.match(entry):
        raise ValueError(f"`{entry}` is neither a rule id nor a re:/re.en:/re.zh: pattern")


def _matches(entry: str, draft: AdviceDraft, text: str) -> bool | None:
    """True/False, or None when the entry does not apply to this language."""
    if entry.startswith("re:"):
        return re.search(entry[3:], text) is not None
    for lang in Lang:
        prefix = f"re.{lang.value}:"
        if entry.startswith(prefix):
            if draft.lang != lang:
                return None
            return re.search(entry[len(prefix) :], text) is not None
    return entry in draft.rule_ids


@dataclass
class CaseResult:
    case_id: str
    missing: list[str] = field(default_factory=list)
    inappropriate: list[str] = field(default_factory=list)


@dataclass
class EvalReport:
    engine: Engine
    lang: Lang
    results: list[CaseResult]

    @property
    def n(self) -> int:
        return len(self.results)

    def pct(self, ok: Iterable[bool]) -> float:
        flags = list(ok)
        return 100.0 * sum(flags) / len(flags) if flags else 0.0

    @property
    def no_missing_pct(self) -> float:
        return self.pct(not r.missing for r in self.results)

    @property
    def no_inappropriate_pct(self) -> float:
        return self.pct(not r.inappropriate for r in self.results)

    @property
    def both_pct(self) -> float:
        return self.pct(not r.missing and not r.inappropriate for r in self.results)

    def as_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine.value,
            "lang": self.lang.value,
            "cases": self.n,
            "no_missing_content_pct": round(self.no_missing_pct, 1),
            "no_inappropriate_content_pct": round(self.no_inappropriate_pct, 1),
            "both_pct": round(self.both_pct, 1),
            "failures": [
                {"case": r.case_id, "missing": r.missing, "inappropriate": r.inappropriate}
                for r in self.results
                if r.missing or r.inappropriate
            ],
        }


def evaluate_case(case: EvalCase, draft: AdviceDraft) -> CaseResult:
    text = render_text(draft)
    result = CaseResult(case_id=case.id)
    for entry in case.must_include:
        if _matches(entry, draft, text) is False:
            result.missing.append(entry)
    for entry in case.must_not_include:
        if _matches(entry, draft, text) is True:
            result.inappropriate.append(entry)
    return result


def evaluate(
    cases: Sequence[EvalCase],
    *,
    engine: Engine,
    lang: Lang,
    generator: TextGenerator | None = None,
    max_new_tokens: int = 768,
    facts_from_fhir: FactsFromFhir | None = None,
) -> EvalReport:
    """`facts_from_fhir` (the inbound mapper, passed in by a caller above models/): cases
    with a FHIR record are mapped afresh instead of using their stored facts."""
    results = []
    for case in cases:
        facts: Any = case.facts
        if facts_from_fhir is not None and case.fhir is not None:
            as_of = date.fromisoformat(str(case.facts["as_of"]))
            facts = facts_from_fhir(case.fhir, as_of=as_of)
        inp = parse_advise_input(
            {
                "facts": facts.model_dump(mode="json") if isinstance(facts, BaseModel) else facts,
                "grading": case.grading,
                "context": case.context,
            }
        )
        draft = advise(
            inp.facts,
            inp.grading,
            inp.context,
            lang=lang,
            engine=engine,
            generator=generator,
            max_new_tokens=max_new_tokens,
        )
        results.append(evaluate_case(case, draft))
    return EvalReport(engine=engine, lang=lang, results=results)
