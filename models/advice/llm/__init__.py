"""Language-model backends behind one protocol (`TextGenerator`)."""

from __future__ import annotations

import os

from models.advice.config import Backend, LlmSettings
from models.advice.llm.base import (
    ChatMessages,
    LlmBadResponse,
    LlmError,
    LlmUnavailable,
    TextGenerator,
)
from models.advice.llm.local import TransformersGenerator, find_smollm2_gguf
from models.advice.llm.openai_compat import OpenAICompatGenerator

__all__ = [
    "ChatMessages",
    "LlmBadResponse",
    "LlmError",
    "LlmUnavailable",
    "OpenAICompatGenerator",
    "TextGenerator",
    "TransformersGenerator",
    "find_smollm2_gguf",
    "make_generator",
]


def make_generator(settings: LlmSettings) -> TextGenerator:
    """Build (not load) the configured backend."""
    if settings.backend == Backend.EMBEDDED:
        return TransformersGenerator.embedded(adapter_dir=settings.adapter_dir)
    if settings.backend == Backend.HF_LOCAL:
        if settings.model_dir is None:
            raise LlmUnavailable("backend hf_local needs model_dir")
        return TransformersGenerator(
            settings.model_dir, adapter_dir=settings.adapter_dir, device=settings.device
        )
    if not settings.base_url or not settings.model:
        raise LlmUnavailable("backend openai needs base_url and model")
    key = os.environ.get(settings.api_key_env) if settings.api_key_env else None
    return OpenAICompatGenerator(
        settings.base_url,
        settings.model,
        api_key=key,
        timeout_s=settings.timeout_s,
        max_retries=settings.max_retries,
    )
