"""`deepdr-fhir config check [--config FILE] [--json]`: validate the configuration and print
the effective settings, secrets masked, with where each value came from (default, file,
env). Exit 2 with one line per problem when it is invalid."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

from plugin.cli.common import EXIT_OK, CliError, print_json
from plugin.config_loader import ConfigError, LoadedConfig, check_referenced_files, load_settings

MASK = "**********"
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s:/@]+):[^\s@/]+@")
_CONNINFO_PASSWORD = re.compile(r"(?i)\b(password\s*=\s*)(?:'[^']*'|\S+)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "config",
        help="check the configuration",
        description="Inspect the configuration (defaults < TOML file < DEEPDR_* environment).",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check",
        help="validate and print the effective configuration (secrets masked)",
        description="Validate the configuration and print every setting with its source.",
    )
    add_config_argument(check)
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(func=run_check)


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="FILE", help="TOML configuration file (default: $DEEPDR_CONFIG)"
    )


def load_or_fail(config_file: str | None, *, check_files: bool = True) -> LoadedConfig:
    """Loads the settings; on problems prints one line each to stderr and raises CliError.
    `check_files=False` for commands that never open the files the settings name (keys,
    bundle)."""
    try:
        loaded = load_settings(config_file)
    except ConfigError as exc:
        fail(exc.problems)
    problems = check_referenced_files(loaded) if check_files else []
    if problems:
        fail(problems)
    return loaded


def fail(problems: tuple[str, ...] | list[str]) -> NoReturn:
    """One problem: one line. Several: one line each, then the summary."""
    if len(problems) == 1:
        raise CliError(f"invalid configuration: {problems[0]}")
    for line in problems:
        print(f"  {line}", file=sys.stderr)
    raise CliError(f"invalid configuration ({len(problems)} problems above)")


def run_check(args: argparse.Namespace) -> int:
    loaded = load_or_fail(args.config)
    masked = mask_secrets(loaded.settings.model_dump(mode="json"))
    rows = list(flatten(masked))
    if args.json:
        print_json(
            {
                "valid": True,
                "config_file": str(loaded.config_file) if loaded.config_file else None,
                "settings": masked,
                "sources": {path: loaded.source_of(path) for path, _ in rows},
            }
        )
        return EXIT_OK
    print(f"configuration valid (file: {loaded.config_file or 'none'})")
    width = max(len(path) for path, _ in rows)
    for path, value in rows:
        print(f"{path:<{width}} = {json.dumps(value)}  ({loaded.source_of(path)})")
    return EXIT_OK


def mask_secrets(value: Any) -> Any:
    """SecretStr values already dump as a mask; passwords inside URLs are masked here."""
    if isinstance(value, Mapping):
        return {k: mask_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    if isinstance(value, str):
        value = _URL_PASSWORD.sub(r"\1:" + MASK + "@", value)
        return _CONNINFO_PASSWORD.sub(r"\1" + MASK, value)
    return value


def flatten(value: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            yield from flatten(item, path + ".")
        else:
            yield path, item
