"""store.retention: defaults, the TOML spellings of "unset" ("forever" / "off"), the
environment, and errors named by key path and source."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugin.config import RetentionSettings
from plugin.config_loader import ConfigError, load_settings


def test_defaults_keep_audit_feedback_and_pairs_forever() -> None:
    retention = load_settings(None, {}).settings.store.retention
    assert retention == RetentionSettings()
    assert (retention.grading_cache_days, retention.cds_image_index_days) == (365, 365)
    assert (retention.screenings_days, retention.finished_jobs_days) == (730, 90)
    assert retention.audit_log_days is None
    assert retention.cds_feedback_days is None and retention.signoff_pairs_days is None
    assert retention.purge_interval_h == 24


def test_toml_words_and_environment_values(tmp_path: Path) -> None:
    path = tmp_path / "deepdr.toml"
    path.write_text(
        "[store.retention]\n"
        'grading_cache_days = "forever"\n'
        'purge_interval_h = "Off"\n'
        "audit_log_days = 2555\n"
        "screenings_days = 100\n",
        encoding="utf-8",
    )
    loaded = load_settings(
        path,
        {
            "DEEPDR_STORE__RETENTION__CDS_FEEDBACK_DAYS": "30",
            "DEEPDR_STORE__RETENTION__FINISHED_JOBS_DAYS": "",  # empty: unset
            "DEEPDR_STORE__RETENTION__SCREENINGS_DAYS": "FOREVER",  # env beats the file
        },
    )
    retention = loaded.settings.store.retention
    assert retention.grading_cache_days is None and retention.purge_interval_h is None
    assert retention.audit_log_days == 2555 and retention.cds_feedback_days == 30
    assert retention.finished_jobs_days is None and retention.screenings_days is None
    assert loaded.source_of("store.retention.audit_log_days") == f"file {path}"
    assert (
        loaded.source_of("store.retention.screenings_days")
        == "env DEEPDR_STORE__RETENTION__SCREENINGS_DAYS"
    )


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("AUDIT_LOG_DAYS", "0", "greater than or equal to 1"),
        ("GRADING_CACHE_DAYS", "-5", "greater than or equal to 1"),
        ("SCREENINGS_DAYS", "36501", "less than or equal to 36500"),
        ("SIGNOFF_PAIRS_DAYS", "off", "valid integer"),  # "off" is the interval's word
        ("PURGE_INTERVAL_H", "forever", "valid integer"),
        ("PURGE_INTERVAL_H", "0", "greater than or equal to 1"),
        ("CDS_FEEDBACK_DAYS", "1.5", "valid integer"),
    ],
)
def test_bad_values_are_one_line_naming_key_and_variable(
    key: str, value: str, message: str
) -> None:
    variable = f"DEEPDR_STORE__RETENTION__{key}"
    with pytest.raises(ConfigError) as exc:
        load_settings(None, {variable: value})
    (line,) = exc.value.problems
    assert line.startswith(f"store.retention.{key.lower()}: ")
    assert message in line and line.endswith(f"[env {variable}]")


def test_unknown_retention_key_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "deepdr.toml"
    path.write_text("[store.retention]\naudit_days = 30\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_settings(path, {})
    (line,) = exc.value.problems
    assert line.startswith("store.retention.audit_days: ") and line.endswith(f"[file {path}]")
