"""`deepdr-fhir screen --fhir-server URL --patient ID [--token-env VAR] [--lang en|zh]
[--engine rules|llm] [--no-write] [--json]`: screen one patient end to end.

Reads the patient's record from the FHIR server, retrieves the fundus images (DICOMweb,
Media, DocumentReference), grades them (results cached by image content and model
version), drafts advice, writes the preliminary results back (DiagnosticReport +
Observations, draft CarePlan, Provenance; a retry writes nothing new) and records the
screening in the store. Prints per-eye grading, the advice headlines and what was written.

Settings (store, grader bundle or remote grader, image-source credentials, language model,
advice language, engine and default BMI population) come from the usual configuration
(--config FILE or $DEEPDR_CONFIG, DEEPDR_* variables), as for the screening job; the
options below override them. The access token is read from the environment variable
--token-env names, never from the command line. Bad input (unreachable server, unknown patient, no
images, no grader): exit 2 and one line.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from fhir_mappers.outbound import OutboundError
from models.advice import Engine, Lang
from plugin.cli.common import EXIT_OK, CliError, print_json
from plugin.config import Settings
from plugin.config_loader import ConfigError, load_settings
from plugin.fhir import FhirError, HttpFhirGateway
from plugin.store import StoreError, open_store
from plugin.workflow import ImagingErrors, ScreeningOptions, ScreeningService, WorkflowError
from plugin.workflow.factory import configured_grader, screening_service_from_settings
from plugin.workflow.grader import Grader
from plugin.workflow.summary import advice_headlines, eye_line, facts_line, written_line
from plugin.workflow.types import ScreeningResult


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "screen",
        help="screen one patient: FHIR record -> images -> grading -> advice -> write-back",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--fhir-server", required=True, metavar="URL", help="FHIR R4 base URL")
    p.add_argument("--patient", required=True, metavar="ID", help="Patient id or Patient/ID")
    p.add_argument("--token-env", metavar="VAR", help="environment variable holding a token")
    p.add_argument(
        "--lang", choices=[x.value for x in Lang], help="advice language (default: advice.lang)"
    )
    p.add_argument(
        "--engine", choices=[e.value for e in Engine], help="advice engine (default: advice.engine)"
    )
    p.add_argument("--no-write", action="store_true", help="write nothing to the FHIR server")
    p.add_argument("--referral", action="store_true", help="also write the suggested referral")
    p.add_argument("--no-grade", action="store_true", help="skip the images: advice only")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--config", metavar="FILE", help="TOML settings file")
    p.add_argument("--store", metavar="URL", help="store URL (default: store.url)")
    p.add_argument(
        "--bundle", metavar="DIR", type=Path, help="grader bundle folder (default: grader.bundle)"
    )
    p.add_argument(
        "--max-transaction-entries",
        type=int,
        metavar="N",
        help="split the write-back into transactions of N entries (default: one)",
    )
    p.add_argument("--timeout", type=float, default=30.0, help="FHIR request timeout (s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config).settings
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    token = _token(args.token_env)
    if args.max_transaction_entries is not None and args.max_transaction_entries < 1:
        raise CliError("--max-transaction-entries must be at least 1")
    options = ScreeningOptions(
        lang=Lang(args.lang) if args.lang else settings.advice.lang,
        engine=Engine(args.engine) if args.engine else settings.advice.engine,
        write=not args.no_write,
        write_referral=args.referral,
        grade=not args.no_grade,
    )
    grader = None if args.no_grade else _grader(settings, args.bundle)
    try:
        gateway = HttpFhirGateway(
            args.fhir_server, token=(lambda: token) if token else None, timeout_s=args.timeout
        )
    except FhirError as exc:
        raise CliError(f"--fhir-server: {exc}") from None
    try:
        store = open_store(args.store or settings.store.url)
    except StoreError as exc:
        gateway.close()
        raise CliError(f"store: {exc}") from None
    try:
        service = screening_service_from_settings(
            settings,
            gateway,
            store,
            grader=grader,
            fhir_token=(lambda: token) if token else None,
            write_max_entries=args.max_transaction_entries,
        )
        result = _screen(service, args.patient, options)
    finally:
        store.close()
        gateway.close()
    if args.json:
        print_json(as_json(result, gateway.base_url))
    else:
        print(as_text(result, gateway.base_url, options.lang.value))
    return EXIT_OK


def _token(var: str | None) -> str | None:
    if var is None:
        return None
    value = os.environ.get(var, "").strip()
    if not value:
        raise CliError(f"--token-env: environment variable {var} is not set or empty")
    return value


def _grader(settings: Settings, bundle: Path | None) -> Grader:
    """[grader] (local bundle, or remote with grader.remote); --bundle replaces its folder."""
    try:
        return configured_grader(settings, bundle=bundle)
    except WorkflowError as exc:
        raise CliError(f"{exc.message} (use --no-grade for advice only)") from None


def _screen(service: ScreeningService, patient: str, options: ScreeningOptions) -> ScreeningResult:
    try:
        return service.screen(patient, options)
    except ImagingErrors as exc:
        first = exc.problems[0] if exc.problems else None
        detail = f"; first: {first.source_ref}: {first.reason}" if first else ""
        raise CliError(f"{exc.message}{detail}") from None
    except WorkflowError as exc:
        raise CliError(exc.message) from None
    except FhirError as exc:
        raise CliError(f"FHIR server {service.gateway.base_url}: {exc}") from None
    except (OutboundError, StoreError) as exc:
        raise CliError(str(exc)) from None


def as_json(result: ScreeningResult, fhir_server: str) -> dict[str, Any]:
    return {
        "screening_id": result.screening_id,
        "status": result.status,
        "fhir_server": fhir_server,
        "patient": result.patient_ref,
        "summary": result.stored.summary,
        "problems": [p.model_dump() for p in result.problems],
        "referral": result.referral.model_dump(mode="json") if result.referral else None,
        "written": dict(result.written.references) if result.written else None,
        "created": dict(result.written.created) if result.written else None,
        "advice": result.advice.model_dump(mode="json") if result.advice else None,
        "warnings": list(result.record.warnings),
        "timings_ms": result.timings_ms,
    }


def as_text(result: ScreeningResult, fhir_server: str, lang: str = "en") -> str:
    """The run in lines; the facts in the advice's language (`lang`), the rest in English."""
    summary = result.stored.summary
    images = summary["images"]
    lines = [
        f"Screening of {result.patient_ref} on {fhir_server}: {result.status}"
        f" (screening {result.screening_id[:12]}, run {result.stored.runs})",
        f"Facts:    {facts_line(result.record.facts, lang)}",
        f"Images:   {images['retrieved']} retrieved, {images['graded']} graded, "
        f"{images['cache_hits']} from cache, {images['problems']} with problems",
    ]
    model = summary.get("model")
    for eye in summary["eyes"]:
        lines.append(f"  {eye['eye']:<7} {eye_line(eye)}")
    if model:
        lines.append(f"  (grader {model['name']} {model['version']})")
    for p in result.problems:
        lines.append(f"  problem: {p.source_ref} [{p.stage}, {p.code}] {p.reason}")
    if result.referral is not None:
        written = result.written is not None and "service-request" in result.written.references
        state = "written as a proposal" if written else "suggested, not written"
        lines.append(f"Referral: {result.referral.priority}, {state}: {result.referral.reason}")
    advice = summary.get("advice")
    if advice:
        lines.append(
            f"Advice:   {advice['items']} items ({advice['urgent']} urgent; "
            f"{advice['engine']}, {advice['lang']})"
        )
        lines += [f"  - {h}" for h in advice_headlines(result.advice)]
    if result.written is None:
        lines.append("Written:  nothing (--no-write)")
    else:
        new = result.written.created_count
        total = len(result.written.references)
        lines.append(
            f"Written:  {total} resources, {new} new (preliminary/draft): "
            f"{written_line(result.written.references)}"
        )
    lines += [f"Warning:  {w}" for w in result.record.warnings]
    return "\n".join(lines)
