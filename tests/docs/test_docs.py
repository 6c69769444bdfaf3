"""The integrator docs (docs/*.md) stay true to the code: links resolve, every command they
show exists, every configuration example validates, and the tables generated from the code
(settings, FHIR codes) are current."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from cds_hooks.security import TrustedIssuer
from models.grader.bundle import Metadata
from plugin.cds.services import order_services, patient_view_service
from plugin.cli.main import build_parser, main
from plugin.config import SmartSettings
from plugin.config_loader import ConfigError, load_settings

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = sorted(DOCS.glob("*.md"))
CHECKED = [*PAGES, REPO / "README.md"]
SESSION_KEY = "1pO6uWyhWY5e6x0bJKTNm9m15L113k4QrjWaIHZENco="

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
_COMMAND = re.compile(r"\bdeepdr-fhir((?: [a-z][a-z-]*){1,2})")


def _gen_module() -> ModuleType:
    path = REPO / "scripts" / "gen_config_docs.py"
    spec = importlib.util.spec_from_file_location("gen_config_docs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_config_docs", module)
    spec.loader.exec_module(module)
    return module


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


def fenced(kind: str) -> list[tuple[Path, str]]:
    return [
        (page, m.group(2))
        for page in PAGES
        for m in _FENCE.finditer(page.read_text(encoding="utf-8"))
        if m.group(1) == kind
    ]


def test_the_pages_the_brief_asks_for_exist_and_the_index_links_every_page() -> None:
    names = {p.name for p in PAGES}
    wanted = {
        "README.md",
        "install.md",
        "configuration.md",
        "ehr-registration.md",
        "deployment.md",
        "operations.md",
        "security.md",
        "models.md",
        "fhir-mapping.md",
    }
    assert wanted <= names
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    linked = {m.group(1).split("#")[0] for m in _LINK.finditer(index)}
    assert names - {"README.md"} <= linked


@pytest.mark.parametrize("page", CHECKED, ids=lambda p: str(p.relative_to(REPO)))
def test_internal_links_and_anchors_resolve(page: Path) -> None:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    problems = []
    for match in _LINK.finditer(text):
        target = match.group(1)
        if re.match(r"^[a-z]+:", target):  # http(s), mailto: not ours to check offline
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.exists():
            problems.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{target}: no heading with that anchor")
    assert not problems, f"{page.name}: " + "; ".join(problems)


def mentioned_commands() -> set[tuple[str, ...]]:
    """Subcommand paths shown as `deepdr-fhir <command> [<action>]` in the docs."""
    parser = build_parser()
    commands = next(a.choices for a in parser._actions if a.dest == "command")
    assert isinstance(commands, dict)
    found: set[tuple[str, ...]] = set()
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        # systemctl/journalctl lines name the systemd units (deepdr-fhir.service), not commands
        text = "\n".join(ln for ln in lines if not re.search(r"\b(systemctl|journalctl)\b", ln))
        for match in _COMMAND.finditer(text):
            words = match.group(1).split()
            command = words[0]
            if command not in commands:  # its --help then fails: argparse exits 2
                found.add((command,))
                continue
            nested: dict[str, object] = {}
            for action in commands[command]._actions:
                if isinstance(action.choices, dict):
                    nested = action.choices
            if len(words) > 1 and words[1] in nested:
                found.add((command, words[1]))
            else:
                found.add((command,))
    return found


def test_the_docs_show_the_main_commands() -> None:
    shown = mentioned_commands()
    for path in [("serve",), ("worker",), ("config", "check"), ("grade",), ("advice", "finetune")]:
        assert path in shown


@pytest.mark.parametrize("path", sorted(mentioned_commands()), ids=" ".join)
def test_every_command_mentioned_exists(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*path, "--help"])
    assert exited.value.code == 0
    assert f"deepdr-fhir {' '.join(path)}" in capsys.readouterr().out


def test_generated_tables_are_current() -> None:
    gen = _gen_module()
    stale = [
        path.name
        for path, wanted in gen.generated_docs()
        if wanted != path.read_text(encoding="utf-8")
    ]
    assert not stale, f"run python scripts/gen_config_docs.py ({', '.join(stale)} stale)"


def test_every_setting_is_in_the_reference() -> None:
    gen = _gen_module()
    reference = (DOCS / "configuration.md").read_text(encoding="utf-8")
    for row in gen.rows():
        assert f"| `{row.path}` |" in reference


@pytest.mark.parametrize(
    "page,block",
    fenced("toml"),
    ids=lambda v: v.name if isinstance(v, Path) else str(len(v)),
)
def test_every_toml_example_is_a_valid_configuration(
    page: Path, block: str, tmp_path: Path
) -> None:
    tomllib.loads(block)  # TOML at all
    file = tmp_path / "example.toml"
    file.write_text(block, encoding="utf-8")
    environ = {
        "DEEPDR_SMART__SESSION_KEYS": SESSION_KEY,
        "DEEPDR_SERVER__PUBLIC_BASE_URL": "https://deepdr.example.org",
    }
    try:
        load_settings(file, environ)
    except ConfigError as exc:
        pytest.fail(f"{page.name}: {exc}")


def json_documents(block: str) -> list[object]:
    """A JSON block is one document, or JSON lines (log examples)."""
    try:
        return [json.loads(block)]
    except json.JSONDecodeError:
        return [json.loads(line) for line in block.splitlines() if line.strip()]


def test_every_json_example_parses_and_metadata_examples_validate() -> None:
    documents = [doc for _page, block in fenced("json") for doc in json_documents(block)]
    metadata = [d for d in documents if isinstance(d, dict) and "schema_version" in d]
    assert metadata, "models.md shows a metadata.json"
    for doc in metadata:
        Metadata.model_validate(doc)


def test_the_static_jwks_example_is_a_valid_trusted_issuer() -> None:
    text = (DOCS / "ehr-registration.md").read_text(encoding="utf-8")
    issuers = [
        TrustedIssuer.model_validate(i)
        for _page, block in fenced("toml")
        for i in tomllib.loads(block).get("cds", {}).get("issuers", [])
    ]
    assert any(i.jwks is not None for i in issuers)
    assert "jwks = " in text


def test_registration_lists_every_service_prefetch_template_and_scope() -> None:
    text = (DOCS / "ehr-registration.md").read_text(encoding="utf-8").replace("\\|", "|")
    for service in [patient_view_service(), *order_services()]:
        assert f"`{service.id}`" in text and f"`{service.hook}`" in text
        for key, template in (service.prefetch or {}).items():
            assert f"`{key}`" in text
            assert template in text, f"prefetch {key} differs from the code"
    for scope in SmartSettings().scopes:
        assert scope in text.split("| scope | why |", 1)[1], f"scope {scope} not explained"


def test_registration_urls_are_the_apps_routes() -> None:
    from plugin.smart_app.runtime import JWKS_PATH, LAUNCH_PATH, SESSION_TTL_S, STANDALONE_PATH

    text = (DOCS / "ehr-registration.md").read_text(encoding="utf-8")
    base = "https://deepdr.example.org"
    for path in (LAUNCH_PATH, STANDALONE_PATH, JWKS_PATH, SmartSettings().redirect_path):
        assert f"{base}{path}`" in text, f"{path} is not shown as a registration URL"
    assert f"for at most {SESSION_TTL_S // 3600} hours" in text
    assert f"{base}/cds-services`" in text
