"""`deepdr-fhir demo`: placeholder until the demo lands (issue 2)."""

from __future__ import annotations

import argparse

from plugin.cli.common import CliError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the end-to-end demo on embedded data")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise CliError("not implemented yet")
