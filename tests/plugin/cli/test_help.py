"""Every subcommand (and every nested action) answers --help with exit 0 and no traceback:
argparse formats help lazily, so a stray '%' in a help string only fails at --help time."""

from __future__ import annotations

import argparse

import pytest

from plugin.cli.main import build_parser, main


def _command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list:
    paths = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths.append((*prefix, name))
                paths.extend(_command_paths(sub, (*prefix, name)))
    return paths


PATHS = _command_paths(build_parser())


def test_there_are_commands() -> None:
    assert ("facts",) in PATHS and ("advice", "evaluate") in PATHS


@pytest.mark.parametrize("path", [(), *PATHS], ids=lambda p: " ".join(p) or "top")
def test_help_exits_zero(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([*path, "--help"])
    assert info.value.code == 0
    assert "usage: deepdr-fhir" in capsys.readouterr().out
