"""`deepdr-fhir config check`: effective settings with sources, secrets masked; exit 2 with
one line per problem on invalid configuration."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from plugin.cli.main import main


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("DEEPDR_"):
            monkeypatch.delenv(name)


def test_check_prints_settings_with_sources_and_masks_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "deepdr.toml"
    config.write_text("[server]\nworkers = 3\n[fhir.auth]\nkind = 'bearer'\n", encoding="utf-8")
    monkeypatch.setenv("DEEPDR_FHIR__AUTH__TOKEN", "tok-SECRET-123")
    monkeypatch.setenv("DEEPDR_STORE__URL", "postgresql://deepdr:pw-SECRET@db.example/deepdr")
    monkeypatch.setenv("DEEPDR_ADVICE__LLM__API_KEY", "sk-SECRET")
    assert main(["config", "check", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "SECRET" not in out
    assert f"configuration valid (file: {config})" in out
    lines = {line.split(" = ")[0].strip(): line for line in out.splitlines() if " = " in line}
    assert lines["server.workers"].endswith(f"3  (file {config})")
    assert lines["server.port"].endswith("8080  (default)")
    assert lines["fhir.auth.token"].endswith('"**********"  (env DEEPDR_FHIR__AUTH__TOKEN)')
    assert '"postgresql://deepdr:**********@db.example/deepdr"' in lines["store.url"]
    assert '"**********"' in lines["advice.llm.api_key"]


def test_check_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DEEPDR_SMART__CLIENT_ID", "deepdr")
    monkeypatch.setenv("DEEPDR_SERVER__PUBLIC_BASE_URL", "https://deepdr.example")
    key = base64.urlsafe_b64encode(b"0123456789abcdef0123456789abcdef").decode()
    monkeypatch.setenv("DEEPDR_SMART__SESSION_KEYS", key)
    assert main(["config", "check", "--json"]) == 0
    out = capsys.readouterr().out
    assert key not in out and key[:12] not in out
    doc = json.loads(out)
    assert doc["valid"] is True and doc["config_file"] is None
    assert doc["settings"]["smart"]["session_keys"] == ["**********"]
    assert doc["sources"]["smart.client_id"] == "env DEEPDR_SMART__CLIENT_ID"
    assert doc["sources"]["server.host"] == "default"


def test_invalid_configuration_exits_2_with_one_line_per_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "deepdr.toml"
    config.write_text("[server]\nprot = 1\n", encoding="utf-8")
    monkeypatch.setenv("DEEPDR_JOBS__LEASE_S", "soon")
    assert main(["config", "check", "--config", str(config)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"  server.prot: unknown setting [file {config}]",
        "  jobs.lease_s: Input should be a valid integer, unable to parse string as an "
        "integer [env DEEPDR_JOBS__LEASE_S]",
        "deepdr-fhir config: invalid configuration (2 problems above)",
    ]
    assert "Traceback" not in captured.err


def test_unreadable_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", "--config", str(tmp_path / "absent.toml")]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"deepdr-fhir config: invalid configuration: config file {tmp_path / 'absent.toml'}: "
        "not found\n"
    )
