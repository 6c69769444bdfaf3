"""`deepdr-fhir demo`: start the bundled FHIR server and a PACS (Orthanc), load the demo
patients (photographs over DICOMweb for some, as attachments for the others), screen each
one (grade with the shipped bundle, draft advice, write preliminary results back) and print
a table per patient (logic in plugin.demo). `--export DIR` writes the generated Bundles
instead (no server), e.g. to try `deepdr-fhir facts DIR/01-type1-young.json`."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import date
from pathlib import Path

from plugin.cli.common import EXIT_OK, CliError
from plugin.cli.facts_cmd import parse_as_of
from plugin.config_loader import ConfigError, load_settings
from plugin.demo.generate import DEFAULT_SEED, export_demo, generate_demo
from plugin.demo.photos import PhotoLibrary
from plugin.demo.run import run_demo
from plugin.fhir import FhirError
from plugin.local_servers.dicom_testdata import StowError
from plugin.local_servers.fhir_server import LocalServerError
from plugin.store import StoreError

EXIT_ENVIRONMENT = 1
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the end-to-end demo on embedded data",
        description="Start a FHIR server and a PACS, load synthetic diabetic patients (with "
        "labelled fundus photographs from the shared data), screen each one (grading, advice, "
        "preliminary write-back) and print a table per patient.",
    )
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="generator seed")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="reference date (default today)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--no-photos", action="store_true", help="attach no fundus photographs")
    p.add_argument("--export", metavar="DIR", help="write the demo Bundles to DIR and stop")
    p.add_argument(
        "--no-dicomweb", action="store_true", help="keep every photograph as an attachment"
    )
    serve = p.add_mutually_exclusive_group()
    serve.add_argument(
        "--serve",
        dest="serve",
        action="store_true",
        default=None,
        help="afterwards keep the servers running with the SMART app and a test EHR, and print "
        "the URL to launch the app as an EHR would (default when run in a terminal)",
    )
    serve.add_argument("--no-serve", dest="serve", action="store_false", help="exit when done")
    p.add_argument(
        "--config",
        metavar="FILE",
        help="TOML settings (or $DEEPDR_CONFIG, DEEPDR_* variables): the demo uses their grader "
        "and advice sections (e.g. grader.remote, advice.llm, advice.population)",
    )
    p.set_defaults(func=run)


def _wait_for_ctrl_c(ehr_home_url: str, app_base_url: str) -> None:
    print(
        f"\nOpen {ehr_home_url} to launch the DeepDR-FHIR app from the test EHR "
        f"(the app runs at {app_base_url}). Press Ctrl-C to stop.",
        flush=True,
    )
    stop = threading.Event()
    # Explicit handlers: a background job started by a non-interactive shell inherits
    # SIGINT as ignored, and service managers send SIGTERM.
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in STOP_SIGNALS}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _should_serve(args: argparse.Namespace) -> bool:
    if args.serve is not None:
        return bool(args.serve)
    return not args.json and sys.stdin.isatty() and sys.stdout.isatty()


def run(args: argparse.Namespace) -> int:
    as_of = parse_as_of(args.as_of) or date.today()
    library = None if args.no_photos else PhotoLibrary.open()
    if args.export:
        out = Path(args.export)
        if out.exists() and not out.is_dir():
            raise CliError(f"{args.export}: exists and is not a directory")
        try:
            written = export_demo(generate_demo(args.seed, as_of, library), out)
        except OSError as exc:
            raise CliError(f"{args.export}: cannot write ({exc.strerror})") from exc
        print(f"wrote {len(written)} files to {out}")
        return EXIT_OK
    try:
        settings = load_settings(args.config).settings
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    try:
        run_demo(
            seed=args.seed,
            as_of=as_of,
            json_output=args.json,
            library=library,
            dicomweb=not args.no_dicomweb,
            serve_ui=_wait_for_ctrl_c if _should_serve(args) else None,
            settings=settings,
        )
    except (LocalServerError, FhirError, StowError, StoreError) as exc:
        print(f"deepdr-fhir demo: {exc}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    if not args.json:
        print("Servers stopped.")
    return EXIT_OK
