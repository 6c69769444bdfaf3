"""Configuration: defaults < TOML file < DEEPDR_ environment, and every kind of error named
by key path and source, without echoing values (they may be secrets)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plugin.config import BearerFhirAuth, Settings
from plugin.config_loader import (
    ConfigError,
    check_referenced_files,
    load_settings,
    settings_from_mapping,
)

SESSION_KEY = "8n2bX1W9lJq7l0yHc1Xo6t3s9PfJmZ8v3Qn0a6Yd2kE="


def write(tmp_path: Path, text: str, name: str = "deepdr.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(exc: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return list(exc.value.problems)


# --- layering ---------------------------------------------------------------------------------


def test_defaults_need_no_file_and_no_environment() -> None:
    loaded = load_settings(None, {})
    assert loaded.settings == Settings()
    assert loaded.settings.server.host == "127.0.0.1"
    assert loaded.settings.store.url == "sqlite:///var/deepdr.sqlite3"
    assert loaded.config_file is None
    assert loaded.source_of("server.port") == "default"


def test_file_overrides_defaults_and_environment_overrides_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [server]
        port = 9000
        workers = 3
        [store]
        url = "sqlite:///file.db"
        """,
    )
    loaded = load_settings(path, {"DEEPDR_SERVER__PORT": "9100", "DEEPDR_JOBS__LEASE_S": "90"})
    s = loaded.settings
    assert (s.server.port, s.server.workers, s.store.url, s.jobs.lease_s) == (
        9100,
        3,
        "sqlite:///file.db",
        90,
    )
    assert loaded.source_of("server.port") == "env DEEPDR_SERVER__PORT"
    assert loaded.source_of("server.workers") == f"file {path}"
    assert loaded.source_of("server.threads") == "default"
    assert loaded.source_of("jobs.lease_s") == "env DEEPDR_JOBS__LEASE_S"


def test_config_file_path_may_come_from_deepdr_config(tmp_path: Path) -> None:
    path = write(tmp_path, "[logging]\nlevel = 'debug'\n")
    loaded = load_settings(None, {"DEEPDR_CONFIG": str(path)})
    assert loaded.settings.logging.level == "DEBUG"
    assert loaded.config_file == path


def test_nested_environment_keys_select_a_discriminated_union() -> None:
    env = {"DEEPDR_FHIR__AUTH__KIND": "bearer", "DEEPDR_FHIR__AUTH__TOKEN": "tok-123"}
    loaded = load_settings(None, env)
    assert isinstance(loaded.settings.fhir.auth, BearerFhirAuth)
    assert loaded.settings.fhir.auth.token.get_secret_value() == "tok-123"
    assert loaded.source_of("fhir.auth.token") == "env DEEPDR_FHIR__AUTH__TOKEN"


def test_environment_lists_are_comma_separated_or_json() -> None:
    issuers = [{"iss": "https://ehr.example", "jwks_url": "https://ehr.example/jwks"}]
    loaded = load_settings(
        None,
        {
            "DEEPDR_CDS__CORS_ORIGINS": "https://a.example, https://b.example",
            "DEEPDR_CDS__ISSUERS": json.dumps(issuers),
        },
    )
    assert loaded.settings.cds.cors_origins == ("https://a.example", "https://b.example")
    assert loaded.settings.cds.issuers[0].iss == "https://ehr.example"


def test_empty_environment_value_clears_an_optional_setting(tmp_path: Path) -> None:
    path = write(tmp_path, "[fhir]\nbase_url = 'http://127.0.0.1:1/fhir'\n")
    loaded = load_settings(path, {"DEEPDR_FHIR__BASE_URL": ""})
    assert loaded.settings.fhir.base_url is None


def test_other_deepdr_variables_that_are_not_settings_are_left_alone() -> None:
    assert load_settings(None, {"DEEPDR_DATA_DIR": "/data"}).settings == Settings()


def test_create_app_mappings_validate_the_same_way() -> None:
    assert settings_from_mapping({"server": {"port": 1234}}).server.port == 1234
    with pytest.raises(ConfigError) as exc:
        settings_from_mapping({"server": {"prot": 1}})
    assert problems(exc) == ["server.prot: unknown setting [argument]"]


# --- errors -----------------------------------------------------------------------------------


def test_unknown_key_in_file_names_path_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nprot = 8080\n[stroe]\nurl = 'x'\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path, {})
    assert problems(exc) == [
        f"server.prot: unknown setting [file {path}]",
        f"stroe: unknown setting [file {path}]",
    ]


def test_unknown_key_in_environment_names_the_variable() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(None, {"DEEPDR_STORE__URI": "sqlite:///x.db"})
    assert problems(exc) == ["store.uri: unknown setting [env DEEPDR_STORE__URI]"]


def test_single_underscore_typo_is_reported_not_ignored() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(None, {"DEEPDR_STORE_URL": "sqlite:///x.db"})
    assert len(problems(exc)) == 1
    assert problems(exc)[0].startswith("env DEEPDR_STORE_URL: not a setting")
    assert "DEEPDR_STORE__URL" in problems(exc)[0]


def test_wrong_type_names_the_source_and_never_echoes_the_value(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nworkers = 'many-s3cret'\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path, {"DEEPDR_SERVER__PORT": "hunter2-secret"})
    lines = problems(exc)
    assert [line.split(":", 1)[0] for line in lines] == ["server.port", "server.workers"]
    assert lines[0].endswith("[env DEEPDR_SERVER__PORT]")
    assert lines[1].endswith(f"[file {path}]")
    assert "valid integer" in lines[0]
    assert not any("hunter2" in line or "s3cret" in line for line in lines)


def test_out_of_range_and_bad_urls_are_errors() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(
            None,
            {
                "DEEPDR_SERVER__WORKERS": "0",
                "DEEPDR_STORE__URL": "mysql://db/x",
                "DEEPDR_FHIR__BASE_URL": "ftp://fhir.example",
            },
        )
    text = "\n".join(problems(exc))
    assert "server.workers: Input should be greater than or equal to 1" in text
    assert "store.url: must start with sqlite:/// or postgresql://" in text
    assert "fhir.base_url: FHIR base URL must be an absolute http(s) URL" in text


def test_missing_required_secret_says_how_to_set_it(tmp_path: Path) -> None:
    path = write(tmp_path, "[fhir.auth]\nkind = 'bearer'\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path, {})
    assert problems(exc) == [
        "fhir.auth.token: required but not set (in the config file, or as "
        f"DEEPDR_FHIR__AUTH__TOKEN) [file {path}]"
    ]


def test_smart_client_needs_its_secrets() -> None:
    base = {
        "DEEPDR_SMART__CLIENT_ID": "deepdr",
        "DEEPDR_SMART__CLIENT_AUTH": "client_secret_basic",
        "DEEPDR_SERVER__PUBLIC_BASE_URL": "https://deepdr.example",
    }
    with pytest.raises(ConfigError) as exc:
        load_settings(None, {**base, "DEEPDR_SMART__SESSION_KEYS": SESSION_KEY})
    assert problems(exc) == [
        "smart: client_auth client_secret_basic needs smart.client_secret "
        "[env DEEPDR_SMART__CLIENT_AUTH, env DEEPDR_SMART__CLIENT_ID, "
        "env DEEPDR_SMART__SESSION_KEYS]"
    ]
    with pytest.raises(ConfigError) as exc:
        load_settings(None, {**base, "DEEPDR_SMART__CLIENT_SECRET": "s"})
    assert "needs smart.session_keys" in problems(exc)[0]
    ok = load_settings(
        None,
        {**base, "DEEPDR_SMART__CLIENT_SECRET": "s", "DEEPDR_SMART__SESSION_KEYS": SESSION_KEY},
    )
    assert ok.settings.smart_redirect_uri() == "https://deepdr.example/smart/callback"


def test_session_keys_must_be_32_byte_base64() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(None, {"DEEPDR_SMART__SESSION_KEYS": f"{SESSION_KEY},short-key-SECRET"})
    assert problems(exc) == [
        "smart.session_keys: each session key must be URL-safe base64 of 32 random bytes "
        "[env DEEPDR_SMART__SESSION_KEYS]"
    ]


def test_unknown_union_kind_is_an_error() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(None, {"DEEPDR_GRADER__REMOTE__KIND": "triton-grpc"})
    assert problems(exc)[0].startswith("grader.remote:")
    assert "kserve-v2" in problems(exc)[0]


def test_invalid_json_in_environment() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(None, {"DEEPDR_CDS__ISSUERS": "[{'iss': 1}"})
    assert problems(exc)[0].startswith("cds.issuers: not valid JSON")
    assert problems(exc)[0].endswith("[env DEEPDR_CDS__ISSUERS]")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[server\nport = 1\n", "not valid TOML"),
        ("port = \n", "not valid TOML"),
        (b"\xff\xfe[server]\n", "not UTF-8 text"),
    ],
)
def test_unreadable_toml_is_one_line(tmp_path: Path, content: str | bytes, expected: str) -> None:
    path = tmp_path / "bad.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_settings(path, {})
    assert len(problems(exc)) == 1
    assert problems(exc)[0].startswith(f"config file {path}: {expected}")
    assert "\n" not in problems(exc)[0]


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(tmp_path / "nope.toml", {})
    assert problems(exc) == [f"config file {tmp_path / 'nope.toml'}: not found"]
    with pytest.raises(ConfigError) as exc:
        load_settings(tmp_path, {})
    assert problems(exc) == [f"config file {tmp_path}: is a directory, not a TOML file"]


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nbogus = 1\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path, {"DEEPDR_JOBS__LEASE_S": "x", "DEEPDR_NOPE": "1"})
    assert len(problems(exc)) == 3


def test_cross_section_rules() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(None, {"DEEPDR_AUDIT__FHIR_AUDIT_EVENTS": "true"})
    assert problems(exc) == ["(settings): audit.fhir_audit_events needs fhir.base_url [default]"]


def test_secrets_never_appear_in_repr_or_dump() -> None:
    loaded = load_settings(
        None,
        {
            "DEEPDR_FHIR__AUTH__KIND": "bearer",
            "DEEPDR_FHIR__AUTH__TOKEN": "tok-very-secret",
            "DEEPDR_ADVICE__LLM__API_KEY": "sk-very-secret",
        },
    )
    text = repr(loaded.settings) + json.dumps(loaded.settings.model_dump(mode="json"))
    assert "very-secret" not in text


def test_referenced_files_are_checked(tmp_path: Path) -> None:
    loaded = load_settings(
        None,
        {
            "DEEPDR_FHIR__BASE_URL": "http://127.0.0.1:1/fhir",
            "DEEPDR_FHIR__AUTH__KIND": "backend-services",
            "DEEPDR_FHIR__AUTH__CLIENT_ID": "deepdr",
            "DEEPDR_FHIR__AUTH__PRIVATE_KEY_PATH": str(tmp_path / "missing.pem"),
            "DEEPDR_GRADER__BUNDLE": str(tmp_path),
        },
    )
    assert check_referenced_files(loaded) == [
        f"fhir.auth.private_key_path: file {tmp_path / 'missing.pem'} not found "
        "[env DEEPDR_FHIR__AUTH__PRIVATE_KEY_PATH]",
        f"grader.bundle: {tmp_path} is not a model bundle (no metadata.json) "
        "[env DEEPDR_GRADER__BUNDLE]",
    ]


def test_the_example_file_is_valid_and_matches_the_defaults() -> None:
    example = Path(__file__).resolve().parents[2] / "plugin" / "config.example.toml"
    loaded = load_settings(example, {})
    assert loaded.settings == Settings()
    assert loaded.source_of("jobs.lease_s") == f"file {example}"
