"""The advice entry point: facts (+ grading, + context) -> AdviceDraft, by rules or by a
language model that phrases the rules' items under the verifier."""

from __future__ import annotations

from models.advice.engine import build_draft
from models.advice.kb import KnowledgeBase
from models.advice.llm.base import LlmError, TextGenerator
from models.advice.prompt import rewrite_messages
from models.advice.types import (
    AdviceContext,
    AdviceDraft,
    Engine,
    ItemOrigin,
    Lang,
    Population,
)
from models.advice.verifier import verify_rewrite
from models.clinical_facts import ClinicalFacts
from models.grader.result import PatientGrading


def advise(
    facts: ClinicalFacts,
    grading: PatientGrading | None = None,
    context: AdviceContext | None = None,
    *,
    lang: Lang = Lang.EN,
    engine: Engine = Engine.RULES,
    generator: TextGenerator | None = None,
    max_new_tokens: int = 768,
    kb: KnowledgeBase | None = None,
    default_population: Population | None = None,
) -> AdviceDraft:
    """engine=rules: the rules' draft. engine=llm: the model rewrites each item; anything
    the verifier rejects (or a backend failure) falls back to the rules' text, recorded in
    `verifier_notes`, so the caller always gets a complete, guideline-backed draft."""
    draft = build_draft(
        facts, grading, context, lang=lang, kb=kb, default_population=default_population
    )
    if engine == Engine.RULES or not draft.items:
        return draft
    if generator is None:
        raise ValueError("engine=llm needs a generator")
    try:
        output = generator.generate(
            rewrite_messages(draft, facts, grading, context), max_new_tokens=max_new_tokens
        )
    except LlmError as exc:
        return draft.model_copy(
            update={
                "engine": Engine.LLM,
                "model": generator.name,
                "items": tuple(
                    i.model_copy(update={"origin": ItemOrigin.FALLBACK}) for i in draft.items
                ),
                "verifier_notes": (f"language model failed, rules' text used: {exc}",),
            }
        )
    return verify_rewrite(draft, output, generator.name)
