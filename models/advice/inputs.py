"""The advise input document, accepted in two shapes (both JSON objects):

1. {"facts": <ClinicalFacts JSON>, "grading": <PatientGrading JSON | null>,
    "context": <AdviceContext JSON | null>}
2. <ClinicalFacts JSON> (what `deepdr-fhir facts --json` prints) with optional extra
   top-level "grading" and "context" keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from models.advice.types import AdviceContext
from models.clinical_facts import ClinicalFacts
from models.grader.result import PatientGrading


class AdviceInputError(ValueError):
    """The input document is malformed; the message names the field, never its value."""


@dataclass(frozen=True)
class AdviseInput:
    facts: ClinicalFacts
    grading: PatientGrading | None
    context: AdviceContext


M = TypeVar("M", bound=BaseModel)


def _validate(model: type[M], data: Any, what: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise AdviceInputError(f"{what}: {loc}: {err['msg']}{more}") from None


def parse_advise_input(data: Any) -> AdviseInput:
    if not isinstance(data, dict):
        raise AdviceInputError("the input must be a JSON object")
    if "facts" in data:
        unknown = set(data) - {"facts", "grading", "context"}
        if unknown:
            raise AdviceInputError(f"unknown top-level key(s): {', '.join(sorted(unknown))}")
        facts_data = data["facts"]
    else:
        facts_data = {k: v for k, v in data.items() if k not in ("grading", "context")}
    facts = _validate(ClinicalFacts, facts_data, "facts")
    grading_data = data.get("grading")
    grading = None if grading_data is None else _validate(PatientGrading, grading_data, "grading")
    context_data = data.get("context")
    context = (
        AdviceContext()
        if context_data is None
        else _validate(AdviceContext, context_data, "context")
    )
    return AdviseInput(facts=facts, grading=grading, context=context)
