"""Diabetes-management advice: guideline rules with citations (ADA 2025, CDS 2020), an
optional language model that phrases them, and a verifier that keeps it honest.

Nothing heavy is imported here: language models load only when a backend generates.
"""

from models.advice.engine import build_draft, render_text
from models.advice.inputs import AdviceInputError, AdviseInput, parse_advise_input
from models.advice.kb import KnowledgeBase, KnowledgeBaseError, load_knowledge_base
from models.advice.service import advise
from models.advice.types import (
    AdviceContext,
    AdviceDraft,
    AdviceItem,
    Engine,
    Lang,
    Section,
    Urgency,
)

__all__ = [
    "AdviceContext",
    "AdviceDraft",
    "AdviceInputError",
    "AdviceItem",
    "AdviseInput",
    "Engine",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "Lang",
    "Section",
    "Urgency",
    "advise",
    "build_draft",
    "load_knowledge_base",
    "parse_advise_input",
    "render_text",
]
