"""The configured language model: models.advice.llm's backends, with the API key of an
OpenAI-compatible endpoint (vLLM, TGI...) taken from the config's `advice.llm.api_key`
when it is set there rather than named by `api_key_env`."""

from __future__ import annotations

from models.advice.config import Backend, LlmSettings
from models.advice.llm import OpenAICompatGenerator, TextGenerator, make_generator
from plugin.config import LlmConfig


def configured_generator(settings: LlmSettings) -> TextGenerator:
    """Build (not load) the backend `advice.llm` describes."""
    if (
        isinstance(settings, LlmConfig)
        and settings.api_key is not None
        and settings.backend == Backend.OPENAI
        and settings.base_url
        and settings.model
    ):
        return OpenAICompatGenerator(
            settings.base_url,
            settings.model,
            api_key=settings.api_key.get_secret_value(),
            timeout_s=settings.timeout_s,
            max_retries=settings.max_retries,
        )
    return make_generator(settings)
