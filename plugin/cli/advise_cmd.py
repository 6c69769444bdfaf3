"""`deepdr-fhir advise FACTS.json [--lang en|zh] [--engine rules|llm] [--json]`.

FACTS.json: ClinicalFacts JSON (what `deepdr-fhir facts --json` prints) with optional
"grading" (PatientGrading JSON) and "context" (AdviceContext JSON) keys, or an object
{"facts": ..., "grading": ..., "context": ...}. Exit 2 with one line on bad input.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from models.advice import AdviceInputError, Engine, Lang, advise, parse_advise_input, render_text
from models.advice.config import Backend, LlmSettings
from models.advice.llm import LlmUnavailable, TextGenerator, make_generator
from plugin.cli.common import EXIT_OK, CliError, print_json, read_json_file


def add_llm_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("language model (engine llm)")
    g.add_argument("--backend", choices=[b.value for b in Backend], default=Backend.EMBEDDED.value)
    g.add_argument("--model-dir", type=Path, help="local Hugging Face model directory (hf_local)")
    g.add_argument("--adapter", type=Path, help="LoRA adapter directory (embedded or hf_local)")
    g.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1")
    g.add_argument("--model", help="model name at the endpoint (openai)")
    g.add_argument("--api-key-env", help="environment variable holding the endpoint's API key")
    g.add_argument("--timeout", type=float, default=60.0, help="seconds per request (openai)")
    g.add_argument("--max-new-tokens", type=int, default=768)


def llm_settings(args: argparse.Namespace) -> LlmSettings:
    for name in ("model_dir", "adapter"):
        path = getattr(args, name)
        if path is not None and not path.is_dir():
            raise CliError(f"{path}: no such directory")
    try:
        return LlmSettings(
            backend=Backend(args.backend),
            model_dir=args.model_dir,
            adapter_dir=args.adapter,
            base_url=args.base_url,
            model=args.model,
            api_key_env=args.api_key_env,
            timeout_s=args.timeout,
            max_new_tokens=args.max_new_tokens,
        )
    except ValueError as exc:
        raise CliError(f"bad language-model option: {str(exc).splitlines()[0]}") from None


def build_generator(args: argparse.Namespace) -> TextGenerator:
    try:
        return make_generator(llm_settings(args))
    except LlmUnavailable as exc:
        raise CliError(str(exc)) from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "advise",
        help="draft diabetes-management advice from clinical facts (+ optional grading)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("facts", metavar="FACTS.json")
    p.add_argument("--lang", choices=[lang.value for lang in Lang], default=Lang.EN.value)
    p.add_argument("--engine", choices=[e.value for e in Engine], default=Engine.RULES.value)
    p.add_argument("--json", action="store_true", help="print the AdviceDraft as JSON")
    add_llm_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        inp = parse_advise_input(read_json_file(args.facts))
    except AdviceInputError as exc:
        raise CliError(f"{args.facts}: {exc}") from None
    engine = Engine(args.engine)
    generator = build_generator(args) if engine == Engine.LLM else None
    draft = advise(
        inp.facts,
        inp.grading,
        inp.context,
        lang=Lang(args.lang),
        engine=engine,
        generator=generator,
        max_new_tokens=args.max_new_tokens,
    )
    if args.json:
        print_json(draft.model_dump(mode="json"))
    else:
        print(render_text(draft))
    return EXIT_OK
