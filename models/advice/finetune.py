"""LoRA fine-tuning of the advice language model on JSONL pairs.

Pair schema (one JSON object per line; DeepDR-LLM's instruction/input/output plus
provenance), `PairRecord`:
    {"id": "...", "instruction": "<system prompt>", "input": "<patient + rules' items>",
     "output": "<tagged advice: [1] ...>", "lang": "en"|"zh",
     "source": "rules" | "clinician_edit" | "deepdr_format",
     "kb_version": "2025.1.0" | null, "meta": {...}}
`rules`: made by `advice make-pairs` from cases (input = what the LLM path sends, output =
the rules' tagged text). `clinician_edit`: exported after sign-off (`advice export-pairs`,
with the sign-off issue): same input, output = the clinician's signed items, tagged the
same way. `deepdr_format`: DeepDR-LLM-style records (its instruction and `{key:value}`
input), for a model meant to answer in DeepDR-LLM's format.

Defaults are DeepDR-LLM's reported LoRA settings: r 64, alpha 128, q_proj/v_proj,
learning rate 1e-4, cosine schedule, warmup ratio 0.03. The loss covers the output tokens
only. CPU works for a smoke run on the 135M model; finetune_gpu.yaml is the GPU recipe.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.advice.llm.local import TransformersGenerator


class FinetuneError(ValueError):
    """Bad pairs or configuration; the message is safe to show."""


class PairRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    instruction: str
    input: str
    output: str = Field(min_length=1)
    lang: Literal["en", "zh"] = "en"
    source: Literal["rules", "clinician_edit", "deepdr_format"] = "rules"
    kb_version: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


class FinetuneConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    base_model: str = "embedded"  # "embedded" (SmolLM2 GGUF) or a local HF model directory
    output_dir: Path = Path("runs/advice-lora")
    lora_r: int = Field(default=64, gt=0)
    lora_alpha: int = Field(default=128, gt=0)
    lora_dropout: float = Field(default=0.05, ge=0, lt=1)
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    learning_rate: float = Field(default=1e-4, gt=0)
    lr_scheduler: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_ratio: float = Field(default=0.03, ge=0, lt=1)
    epochs: int = Field(default=1, gt=0)
    max_steps: int | None = Field(default=None, gt=0)
    batch_size: int = Field(default=1, gt=0)
    grad_accum: int = Field(default=1, gt=0)
    max_seq_len: int = Field(default=512, gt=8)
    seed: int = 42
    device: str = "cpu"
    bf16: bool = False

    @classmethod
    def from_yaml(cls, path: Path, **overrides: Any) -> FinetuneConfig:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            return cls.model_validate({**data, **overrides})
        except (OSError, yaml.YAMLError) as exc:
            raise FinetuneError(f"{path}: cannot read config ({type(exc).__name__})") from None
        except ValidationError as exc:
            err = exc.errors()[0]
            raise FinetuneError(f"{path}: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None


def load_pairs(path: Path) -> list[PairRecord]:
    pairs: list[PairRecord] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            pairs.append(PairRecord.model_validate(json.loads(line)))
        except json.JSONDecodeError as exc:
            raise FinetuneError(f"{path.name} line {n}: not valid JSON ({exc.msg})") from None
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(map(str, err["loc"]))
            raise FinetuneError(f"{path.name} line {n}: {loc}: {err['msg']}") from None
    if not pairs:
        raise FinetuneError(f"{path.name}: no pairs")
    return pairs


@dataclass(frozen=True)
class FinetuneResult:
    output_dir: Path
    steps: int
    first_loss: float
    last_loss: float
    seconds: float


def _encode(pair: PairRecord, tokenizer: Any, max_len: int) -> tuple[list[int], list[int]]:
    messages = [
        {"role": "system", "content": pair.instruction},
        {"role": "user", "content": pair.input},
    ]
    if getattr(tokenizer, "chat_template", None):
        prompt_ids = list(
            tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        )
        if isinstance(prompt_ids[0], list):  # some tokenizers return a batch
            prompt_ids = prompt_ids[0]
    else:
        text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "
        prompt_ids = tokenizer(text)["input_ids"]
    out_ids = tokenizer(pair.output, add_special_tokens=False)["input_ids"]
    if tokenizer.eos_token_id is not None:
        out_ids = [*out_ids, tokenizer.eos_token_id]
    # Keep the whole output where possible: truncate the prompt from the left.
    keep_prompt = max(0, max_len - len(out_ids))
    prompt_ids = prompt_ids[-keep_prompt:] if keep_prompt else []
    ids = (prompt_ids + out_ids)[:max_len]
    labels = ([-100] * len(prompt_ids) + out_ids)[:max_len]
    return ids, labels


def finetune(cfg: FinetuneConfig, pairs: list[PairRecord]) -> FinetuneResult:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import get_scheduler

    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.base_model == "embedded":
        base = TransformersGenerator.embedded()
    else:
        base = TransformersGenerator(Path(cfg.base_model), device=cfg.device)
    base.device = cfg.device
    model, tokenizer = base.load()
    model.train()
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.target_modules),
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    encoded = [_encode(p, tokenizer, cfg.max_seq_len) for p in pairs]
    per_epoch = math.ceil(len(encoded) / (cfg.batch_size * cfg.grad_accum))
    total = cfg.max_steps or per_epoch * cfg.epochs
    optim = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=cfg.learning_rate
    )
    sched = get_scheduler(
        cfg.lr_scheduler,
        optimizer=optim,
        num_warmup_steps=math.ceil(cfg.warmup_ratio * total),
        num_training_steps=total,
    )
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    dtype = torch.bfloat16 if cfg.bf16 else None
    losses: list[float] = []
    started = time.perf_counter()
    step = 0
    order = list(range(len(encoded)))
    while step < total:
        random.shuffle(order)
        for start in range(0, len(order), cfg.batch_size * cfg.grad_accum):
            chunk = order[start : start + cfg.batch_size * cfg.grad_accum]
            optim.zero_grad()
            step_loss = 0.0
            for b in range(0, len(chunk), cfg.batch_size):
                batch = [encoded[i] for i in chunk[b : b + cfg.batch_size]]
                width = max(len(ids) for ids, _ in batch)
                ids = torch.tensor([x + [pad] * (width - len(x)) for x, _ in batch])
                labels = torch.tensor([y + [-100] * (width - len(y)) for _, y in batch])
                mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x, _ in batch])
                with torch.autocast(cfg.device.split(":")[0], dtype=dtype, enabled=cfg.bf16):
                    out = model(
                        input_ids=ids.to(cfg.device),
                        attention_mask=mask.to(cfg.device),
                        labels=labels.to(cfg.device),
                    )
                (out.loss / cfg.grad_accum).backward()
                step_loss += float(out.loss.detach()) / cfg.grad_accum
            optim.step()
            sched.step()
            losses.append(step_loss)
            step += 1
            if step >= total:
                break
    cfg.output_dir.mkdir(parents=True, exist_ok=True)
    # Only the LoRA matrices are trained; the (GGUF) base has no config.json to compare.
    model.save_pretrained(str(cfg.output_dir), save_embedding_layers=False)
    tokenizer.save_pretrained(str(cfg.output_dir))
    seconds = time.perf_counter() - started
    meta = {
        "base_model": cfg.base_model if cfg.base_model != "embedded" else base.name,
        "config": cfg.model_dump(mode="json"),
        "pairs": len(pairs),
        "sources": sorted({p.source for p in pairs}),
        "steps": step,
        "first_loss": losses[0],
        "last_loss": losses[-1],
        "seconds": round(seconds, 1),
    }
    (cfg.output_dir / "finetune_meta.json").write_text(json.dumps(meta, indent=2), "utf-8")
    return FinetuneResult(cfg.output_dir, step, losses[0], losses[-1], seconds)
