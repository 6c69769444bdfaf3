"""(draft, signed) advice pairs: kept at sign-off in the store, exported as the fine-tuning
JSONL (`models.advice.finetune.PairRecord`, source `clinician_edit`).

A pair holds what the language model would be asked (`instruction` + `input`: the system
prompt and DeepDR-LLM-style patient description, no names or identifiers), the AI draft and
the clinician's signed items, each tagged `[n] text` like the rules' fine-tuning targets. An
item the clinician removed is left out of the signed text. The patient appears only as a
keyed hash (HMAC-SHA256 of the FHIR reference)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from models.advice.finetune import PairRecord
from plugin.store.signoff_pairs import SignoffPair, SignoffPairStore


@dataclass(frozen=True)
class AdviceOrigin:
    """How the draft was made, and what a model would be asked to produce it."""

    lang: str
    engine: str  # rules | llm
    model: str  # the rules engine or language model, with version
    kb_version: str
    draft_texts: tuple[str, ...]  # the AI's items, in CarePlan activity order
    instruction: str
    input: str


def tagged(texts: Sequence[str]) -> str:
    """`[1] text` lines, numbered by the draft's item positions; empty (removed) items are
    left out so the numbers still say which draft item each signed line came from."""
    return "\n".join(f"[{n}] {t.strip()}" for n, t in enumerate(texts, start=1) if t.strip())


def signoff_pair(
    pair_id: str, origin: AdviceOrigin, signed_texts: Sequence[str], patient_ref_hash: str | None
) -> SignoffPair:
    signed = signed_texts or origin.draft_texts
    return SignoffPair(
        pair_id=pair_id,
        lang=origin.lang,
        engine=origin.engine,
        model=origin.model,
        draft=tagged(origin.draft_texts),
        signed=tagged(signed),
        facts={
            "instruction": origin.instruction,
            "input": origin.input,
            "kb_version": origin.kb_version,
            "items": len(origin.draft_texts),
            "edited": sum(
                1 for a, b in zip(origin.draft_texts, signed, strict=False) if a.strip() != b
            ),
            "removed": sum(1 for t in signed if not t.strip()),
        },
        patient_ref_hash=patient_ref_hash,
    )


def pair_record(pair: SignoffPair) -> PairRecord | None:
    """The fine-tuning record of a stored pair; None when it lacks the prompt (stored by an
    older version or by hand) or has no signed text."""
    facts = pair.facts or {}
    instruction, prompt = facts.get("instruction"), facts.get("input")
    if not isinstance(instruction, str) or not isinstance(prompt, str) or not pair.signed:
        return None
    lang = pair.lang if pair.lang in ("en", "zh") else None
    if lang is None:
        return None
    kb = facts.get("kb_version")
    meta: dict[str, Any] = {
        "engine": pair.engine,
        "model": pair.model,
        "draft": pair.draft,
        "patient": pair.patient_ref_hash,
        "signed_at": pair.created_at.isoformat() if pair.created_at else None,
        "edited_items": facts.get("edited"),
        "removed_items": facts.get("removed"),
    }
    return PairRecord(
        id=pair.pair_id,
        instruction=instruction,
        input=prompt,
        output=pair.signed,
        lang=lang,
        source="clinician_edit",
        kb_version=kb if isinstance(kb, str) else None,
        meta=meta,
    )


@dataclass(frozen=True)
class ExportCount:
    written: int
    skipped: int


def export_pairs(
    store: SignoffPairStore, out: TextIO, since: datetime | None = None
) -> ExportCount:
    """Writes one JSON object per line, oldest first; returns how many were written and
    how many stored pairs could not be turned into a record."""
    written = skipped = 0
    for record in _records(store, since):
        if record is None:
            skipped += 1
            continue
        out.write(json.dumps(record.model_dump(mode="json"), ensure_ascii=False) + "\n")
        written += 1
    return ExportCount(written, skipped)


def _records(store: SignoffPairStore, since: datetime | None) -> Iterator[PairRecord | None]:
    for pair in store.iter_pairs(since):
        yield pair_record(pair)
