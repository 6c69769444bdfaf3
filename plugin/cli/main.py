"""`deepdr-fhir`: one entry point, one module per subcommand.

Each subcommand module exposes `register(subparsers)` which adds its parser and sets
`func(args) -> int`. Bad input raises `CliError` (exit 2, one line on stderr); nothing
prints a traceback to the user.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from plugin.cli.common import EXIT_BAD_INPUT, CliError

# Subcommand modules, in `--help` order. Add a module here to add a subcommand.
SUBCOMMANDS: tuple[str, ...] = (
    "plugin.cli.grade_cmd",
    "plugin.cli.evaluate_cmd",
    "plugin.cli.facts_cmd",
    "plugin.cli.demo_cmd",
    "plugin.cli.advise_cmd",
    "plugin.cli.advice_cmd",
    "plugin.cli.screen_cmd",
    "plugin.cli.serve_cmd",
    "plugin.cli.worker_cmd",
    "plugin.cli.store_cmd",
    "plugin.cli.config_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deepdr-fhir",
        description="Diabetic retinopathy grading and diabetes-management advice over FHIR.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except CliError as exc:
        print(f"deepdr-fhir {args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
