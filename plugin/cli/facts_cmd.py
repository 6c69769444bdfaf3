"""`deepdr-fhir facts BUNDLE.json`: placeholder until the inbound mappers land (issue 2)."""

from __future__ import annotations

import argparse

from plugin.cli.common import CliError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("facts", help="print the clinical facts found in a FHIR Bundle")
    p.add_argument("bundle", metavar="BUNDLE.json")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise CliError("not implemented yet")
