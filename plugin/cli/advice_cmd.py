"""`deepdr-fhir advice evaluate|make-pairs|finetune`: evaluate the advice on written cases,
make fine-tuning pairs from cases, and LoRA-fine-tune the advice language model.
`advice export-pairs` writes the (draft, signed) pairs kept at clinician sign-off."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from models.advice import Engine, Lang, parse_advise_input
from models.advice.evaluate import EvalCase, EvalCaseError, EvalReport, evaluate, load_cases
from models.advice.service import advise
from plugin.cli.advise_cmd import add_llm_arguments, build_generator
from plugin.cli.common import EXIT_OK, CliError, print_json


def _langs(value: str) -> list[Lang]:
    try:
        return [Lang(v.strip()) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("languages are en, zh or en,zh") from None


def _engines(value: str) -> list[Engine]:
    try:
        return [Engine(v.strip()) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("engines are rules, llm or rules,llm") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("advice", help="evaluate, make fine-tuning pairs, fine-tune the advice")
    adv = p.add_subparsers(dest="advice_command", metavar="ACTION", required=True)

    ev = adv.add_parser("evaluate", help="%% of cases with no missing / no inappropriate content")
    ev.add_argument("cases", metavar="CASES.jsonl", type=Path)
    ev.add_argument("--engine", type=_engines, default=[Engine.RULES], help="rules, llm or both")
    ev.add_argument("--lang", type=_langs, default=[Lang.EN, Lang.ZH], help="en, zh or en,zh")
    ev.add_argument("--limit", type=int, help="only the first N cases")
    ev.add_argument("--json", action="store_true")
    add_llm_arguments(ev)
    ev.set_defaults(func=run_evaluate)

    mp = adv.add_parser("make-pairs", help="fine-tuning pairs (JSONL) from cases and the rules")
    mp.add_argument("cases", metavar="CASES.jsonl", type=Path)
    mp.add_argument("out", metavar="PAIRS.jsonl", type=Path)
    mp.add_argument("--lang", type=_langs, default=[Lang.EN, Lang.ZH])
    mp.set_defaults(func=run_make_pairs)

    ft = adv.add_parser("finetune", help="LoRA fine-tuning on JSONL pairs (DeepDR-LLM defaults)")
    ft.add_argument("pairs", metavar="PAIRS.jsonl", type=Path)
    ft.add_argument("--config", type=Path, help="YAML FinetuneConfig (e.g. the GPU recipe)")
    ft.add_argument("--base-model", help="'embedded' (SmolLM2) or a local HF model directory")
    ft.add_argument("--output-dir", type=Path)
    ft.add_argument("--max-steps", type=int)
    ft.add_argument("--max-seq-len", type=int)
    ft.add_argument("--lora-r", type=int)
    ft.add_argument("--device")
    ft.set_defaults(func=run_finetune)

    ex = adv.add_parser(
        "export-pairs", help="fine-tuning pairs (JSONL) from clinician-signed advice drafts"
    )
    ex.add_argument("--out", metavar="FILE", type=Path, help="output file (default: stdout)")
    ex.add_argument("--since", metavar="DATE", help="only pairs signed at or after DATE")
    ex.add_argument("--config", metavar="FILE", help="TOML configuration (default: $DEEPDR_CONFIG)")
    ex.add_argument("--store", metavar="URL", help="store URL instead of the configured one")
    ex.set_defaults(func=run_export_pairs)


def _load_cases(path: Path, limit: int | None) -> list[EvalCase]:
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    try:
        cases = load_cases(path)
    except EvalCaseError as exc:
        raise CliError(f"{path}: {exc}") from None
    return cases[:limit] if limit else cases


def run_evaluate(args: argparse.Namespace) -> int:
    cases = _load_cases(args.cases, args.limit)
    generator = build_generator(args) if Engine.LLM in args.engine else None
    reports: list[EvalReport] = []
    for engine in args.engine:
        for lang in args.lang:
            reports.append(
                evaluate(
                    cases,
                    engine=engine,
                    lang=lang,
                    generator=generator,
                    max_new_tokens=args.max_new_tokens,
                )
            )
    if args.json:
        print_json([r.as_dict() for r in reports])
        return EXIT_OK
    head = ("engine", "lang", "cases", "no missing", "no inappropriate", "both")
    print(f"{head[0]:<7} {head[1]:<5} {head[2]:>5} {head[3]:>11} {head[4]:>17} {head[5]:>6}")
    for r in reports:
        print(
            f"{r.engine.value:<7} {r.lang.value:<5} {r.n:>5} {r.no_missing_pct:>10.1f}% "
            f"{r.no_inappropriate_pct:>16.1f}% {r.both_pct:>5.1f}%"
        )
    for r in reports:
        for res in r.results:
            if res.missing or res.inappropriate:
                print(
                    f"FAIL {r.engine.value}/{r.lang.value} {res.case_id}: "
                    f"missing={res.missing} inappropriate={res.inappropriate}"
                )
    return EXIT_OK


def run_make_pairs(args: argparse.Namespace) -> int:
    from models.advice.finetune import PairRecord
    from models.advice.prompt import rewrite_messages, tagged_rules_text

    cases = _load_cases(args.cases, None)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with args.out.open("w", encoding="utf-8") as fh:
        for case in cases:
            inp = parse_advise_input(
                {"facts": case.facts, "grading": case.grading, "context": case.context}
            )
            for lang in args.lang:
                draft = advise(inp.facts, inp.grading, inp.context, lang=lang)
                if not draft.items:
                    continue
                system, user = rewrite_messages(draft, inp.facts, inp.grading, inp.context)
                pair = PairRecord(
                    id=f"{case.id}-{lang.value}",
                    instruction=system["content"],
                    input=user["content"],
                    output=tagged_rules_text(draft),
                    lang=lang.value,
                    source="rules",
                    kb_version=draft.knowledge_base_version,
                )
                fh.write(json.dumps(pair.model_dump(mode="json"), ensure_ascii=False) + "\n")
                n += 1
    print(f"{n} pairs -> {args.out}")
    return EXIT_OK


def run_finetune(args: argparse.Namespace) -> int:
    from models.advice.finetune import FinetuneConfig, FinetuneError, finetune, load_pairs
    from models.advice.llm import LlmUnavailable

    if not args.pairs.is_file():
        raise CliError(f"{args.pairs}: no such file")
    overrides = {
        k: v
        for k, v in {
            "base_model": args.base_model,
            "output_dir": args.output_dir,
            "max_steps": args.max_steps,
            "max_seq_len": args.max_seq_len,
            "lora_r": args.lora_r,
            "device": args.device,
        }.items()
        if v is not None
    }
    try:
        if args.config:
            cfg = FinetuneConfig.from_yaml(args.config, **overrides)
        else:
            cfg = FinetuneConfig(**overrides)
        pairs = load_pairs(args.pairs)
        result = finetune(cfg, pairs)
    except (FinetuneError, LlmUnavailable) as exc:
        raise CliError(str(exc)) from None
    except ValueError as exc:
        raise CliError(f"bad fine-tuning option: {str(exc).splitlines()[0]}") from None
    print(
        f"adapter -> {result.output_dir} ({result.steps} steps, loss {result.first_loss:.3f} -> "
        f"{result.last_loss:.3f}, {result.seconds:.0f} s)",
        file=sys.stdout,
    )
    return EXIT_OK


def _since(value: str | None) -> datetime | None:
    """YYYY-MM-DD (midnight UTC) or an ISO 8601 date-time (UTC when it names no zone)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise CliError(f"--since {value[:40]!r}: expected YYYY-MM-DD or an ISO date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def run_export_pairs(args: argparse.Namespace) -> int:
    from plugin.cli.config_cmd import load_or_fail
    from plugin.signoff import export_pairs
    from plugin.store.errors import StoreConfigError, StoreError
    from plugin.store.store import open_store

    since = _since(args.since)
    url = args.store or load_or_fail(args.config).settings.store.url
    try:
        store = open_store(url)
    except (StoreConfigError, StoreError) as exc:
        raise CliError(f"the store cannot be opened ({type(exc).__name__})") from None
    except OSError as exc:
        raise CliError(f"the store cannot be opened ({exc.strerror})") from None
    try:
        if args.out is None:
            count = export_pairs(store.signoff_pairs, sys.stdout, since)
            target = "stdout"
        else:
            try:
                with args.out.open("w", encoding="utf-8") as fh:
                    count = export_pairs(store.signoff_pairs, fh, since)
            except OSError as exc:
                raise CliError(f"{args.out}: cannot write ({exc.strerror})") from None
            target = str(args.out)
    finally:
        store.close()
    skipped = f" ({count.skipped} without a prompt skipped)" if count.skipped else ""
    print(f"{count.written} pairs -> {target}{skipped}", file=sys.stderr)
    return EXIT_OK
