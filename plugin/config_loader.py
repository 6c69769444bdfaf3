"""Loading `Settings` from defaults < TOML file < environment, with one clear line per problem.

    loaded = load_settings("deepdr.toml")       # or $DEEPDR_CONFIG; environ defaults to os.environ
    loaded.settings.store.url; loaded.source_of("store.url")  # -> "env DEEPDR_STORE__URL"

Environment variables: `DEEPDR_<SECTION>__<KEY>[__<SUBKEY>...]`, case-insensitive keys. A
value starting with `[` or `{` is JSON (lists of tables such as cds.issuers); a list of
strings may also be written comma-separated; an empty value clears an optional setting.

Problems (unknown key, wrong type, missing required secret, unreadable TOML) raise
ConfigError whose `problems` name the key path and where the value came from; values are
never echoed, since they may be secrets.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from plugin.config import Settings

ENV_PREFIX = "DEEPDR_"
CONFIG_FILE_ENV = "DEEPDR_CONFIG"
# DEEPDR_* variables that are not settings (read elsewhere); anything else with the prefix
# must name a setting, so that a typo such as DEEPDR_STORE_URL is reported, not ignored.
NON_SETTING_ENV_VARS: frozenset[str] = frozenset({CONFIG_FILE_ENV, "DEEPDR_DATA_DIR"})
DEFAULT_SOURCE = "default"
_SEQUENCES = (tuple, list, frozenset, set)


class ConfigError(Exception):
    """Invalid configuration. `problems`: one line each, safe to print (no values)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return self.problems[0]
        return f"{len(self.problems)} configuration problems: " + "; ".join(self.problems)


@dataclass(frozen=True)
class LoadedConfig:
    settings: Settings
    sources: Mapping[str, str] = field(default_factory=dict)  # key path -> where it was set
    config_file: Path | None = None

    def source_of(self, path: str) -> str:
        return source_of(self.sources, path)


def source_of(sources: Mapping[str, str], path: str) -> str:
    """Where the value at `path` came from: the setting itself, the table or JSON value
    that contains it, or the settings under it (for a section); else the default."""
    probe = path
    while probe:
        if probe in sources:
            return sources[probe]
        probe = probe.rpartition(".")[0]
    below = sorted({s for p, s in sources.items() if p.startswith(path + ".")}) if path else []
    return ", ".join(below) if below else DEFAULT_SOURCE


def env_var_name(path: str) -> str:
    return ENV_PREFIX + "__".join(p.upper() for p in path.split("."))


# --- loading --------------------------------------------------------------------------------


def load_settings(
    config_file: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> LoadedConfig:
    environ = os.environ if environ is None else environ
    path_text = str(config_file) if config_file is not None else environ.get(CONFIG_FILE_ENV)
    path = Path(path_text) if path_text else None
    data: dict[str, Any] = {}
    sources: dict[str, str] = {}
    problems: list[str] = []
    if path is not None:
        label = f"file {path}"
        try:
            data = read_toml(path)
        except ConfigError as exc:
            problems += exc.problems
        for leaf in _leaf_paths(data):
            sources[leaf] = label
    problems += _apply_environment(data, sources, environ)
    try:
        settings = validate_settings(data, sources)
    except ConfigError as exc:
        problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return LoadedConfig(settings, sources, path)


def settings_from_mapping(data: Mapping[str, Any], source: str = "argument") -> Settings:
    """Validates a plain mapping (create_app(dict), tests) with the same error lines."""
    return validate_settings(data, {leaf: source for leaf in _leaf_paths(data)})


def validate_settings(data: Mapping[str, Any], sources: Mapping[str, str]) -> Settings:
    try:
        return Settings.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(_problem_lines(exc, data, sources)) from None


def read_toml(path: Path) -> dict[str, Any]:
    where = f"config file {path}"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{where}: not found"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{where}: is a directory, not a TOML file"]) from None
    except OSError as exc:
        raise ConfigError([f"{where}: cannot read ({exc.strerror})"]) from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError([f"{where}: not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{where}: not valid TOML ({exc})"]) from None


def _apply_environment(
    data: dict[str, Any], sources: dict[str, str], environ: Mapping[str, str]
) -> list[str]:
    problems = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in NON_SETTING_ENV_VARS:
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        if len(parts) < 2 or not all(parts):
            problems.append(
                f"env {name}: not a setting (settings are DEEPDR_<SECTION>__<KEY>, with two "
                "underscores between levels, e.g. DEEPDR_STORE__URL)"
            )
            continue
        key_path = ".".join(parts)
        try:
            value = _env_value(environ[name], _annotation_at(Settings, parts))
        except ValueError as exc:
            problems.append(f"{key_path}: {exc} [env {name}]")
            continue
        _set_path(data, parts, value)
        for existing in [p for p in sources if p == key_path or p.startswith(key_path + ".")]:
            del sources[existing]
        sources[key_path] = f"env {name}"
    return problems


def _env_value(text: str, annotation: object) -> Any:
    stripped = text.strip()
    if stripped == "" and _allows_none(annotation):
        return None
    if stripped[:1] in ("[", "{"):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if _is_str_sequence(annotation):
        return [item.strip() for item in stripped.split(",") if item.strip()]
    return text


def _set_path(data: dict[str, Any], parts: Sequence[str], value: Any) -> None:
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def _leaf_paths(data: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from _leaf_paths(value, path + ".")
        else:
            yield path


# --- type introspection (for env values) ----------------------------------------------------


def _union_args(annotation: object) -> tuple[object, ...]:
    if get_origin(annotation) in (Union, types.UnionType):
        return get_args(annotation)
    return (annotation,)


def _annotation_at(model: type[BaseModel], parts: Sequence[str]) -> object | None:
    info = model.model_fields.get(parts[0])
    if info is None:
        return None
    if len(parts) == 1:
        return info.annotation
    for candidate in _union_args(info.annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            found = _annotation_at(candidate, parts[1:])
            if found is not None:
                return found
    return None


def _allows_none(annotation: object) -> bool:
    return type(None) in _union_args(annotation)


def _is_str_sequence(annotation: object) -> bool:
    for arg in _union_args(annotation):
        if get_origin(arg) in _SEQUENCES:
            items = [a for a in get_args(arg) if a is not Ellipsis]
            return bool(items) and all(
                isinstance(a, type) and a.__name__ in ("str", "SecretStr") for a in items
            )
    return False


# --- error lines ----------------------------------------------------------------------------


_VALUE_ERROR_PREFIX = re.compile(r"^(?:Value error|Assertion failed), ")


def _problem_lines(
    exc: ValidationError, data: Mapping[str, Any], sources: Mapping[str, str]
) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        path = _display_path(error["loc"], data)
        kind = error["type"]
        if kind == "extra_forbidden":
            message = "unknown setting"
        elif kind == "missing":
            message = f"required but not set (in the config file, or as {env_var_name(path)})"
        else:
            message = _VALUE_ERROR_PREFIX.sub("", error["msg"])
        where = source_of(sources, path) if kind != "missing" else source_of(sources, _parent(path))
        lines.append(f"{path or '(settings)'}: {message} [{where}]")
    return lines


def _parent(path: str) -> str:
    return path.rpartition(".")[0]


def _display_path(loc: Sequence[int | str], data: Any) -> str:
    """The key path of an error in the input's own terms: union tags and validator names
    that pydantic puts into `loc` are dropped."""
    parts: list[str] = []
    node = data
    for i, segment in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, Mapping) and isinstance(segment, str) and segment in node:
            parts.append(segment)
            node = node[segment]
        elif isinstance(node, list) and isinstance(segment, int) and 0 <= segment < len(node):
            parts[-1:] = [f"{parts[-1]}[{segment}]"] if parts else [f"[{segment}]"]
            node = node[segment]
        elif last and isinstance(segment, str) and not _is_pydantic_tag(segment):
            parts.append(segment)
        elif not isinstance(node, Mapping | list) and isinstance(segment, str):
            break
    return ".".join(parts)


def _is_pydantic_tag(segment: str) -> bool:
    return "[" in segment or segment.startswith(("function-", "tagged-union"))


# --- checks against the filesystem (start-up and `config check`) ----------------------------


def check_referenced_files(loaded: LoadedConfig) -> list[str]:
    """Problems with files the settings name (key files, the model bundle), one line each."""
    settings = loaded.settings
    problems = []
    files: list[tuple[str, Path | None]] = [
        ("smart.private_key_path", settings.smart.private_key_path),
        ("fhir.auth.private_key_path", getattr(settings.fhir.auth, "private_key_path", None)),
    ]
    for key, path in files:
        if path is not None and not path.is_file():
            problems.append(f"{key}: file {path} not found [{loaded.source_of(key)}]")
        elif path is not None and not os.access(path, os.R_OK):
            problems.append(f"{key}: file {path} not readable [{loaded.source_of(key)}]")
    bundle = settings.grader.bundle
    if bundle is not None and not (bundle / "metadata.json").is_file():
        problems.append(
            f"grader.bundle: {bundle} is not a model bundle (no metadata.json) "
            f"[{loaded.source_of('grader.bundle')}]"
        )
    return problems
