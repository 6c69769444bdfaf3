"""`deepdr-fhir store purge|migrate`: counts per kind (dry run and real), JSON, never row
contents; exit 2 on bad configuration, a missing SQLite store or an outdated schema."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from plugin.cli.main import main
from plugin.store import Store, open_store
from plugin.store.audit import AuditEntry, AuditOutcome
from plugin.store.database import Database
from plugin.store.migrate import MIGRATIONS_DIR, load_migrations, migrate, schema_version
from plugin.store.signoff_pairs import SignoffPair

SECRET_TEXT = "Signed-for-Jane-Roe-77"  # row contents the output must never show


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("DEEPDR_"):
            monkeypatch.delenv(name)


def write_config(tmp_path: Path, store_url: str, retention: str = "") -> Path:
    config = tmp_path / "deepdr.toml"
    config.write_text(
        f"[store]\nurl = {json.dumps(store_url)}\n[store.retention]\n{retention}\n",
        encoding="utf-8",
    )
    return config


def add_rows(store: Store, tag: str) -> None:
    store.audit.record(
        AuditEntry(actor="Practitioner/77", action="read", outcome=AuditOutcome.SUCCESS)
    )
    store.signoff_pairs.add(
        SignoffPair("CarePlan/" + tag, "en", "rules", "advice-rules@0.1.0", "Draft.", SECRET_TEXT)
    )
    store.jobs.enqueue("grade", {"patient": "Patient/jane-roe"}, "done-" + tag)
    claim = store.jobs.claim("w", ["grade"], timedelta(seconds=60))
    assert claim is not None and store.jobs.complete(claim, {"note": SECRET_TEXT})
    store.jobs.enqueue("other", {"patient": "Patient/jane-roe"}, "queued-" + tag)
    store.sessions.put("session-" + tag, b"sealed", store.clock() + timedelta(hours=8))


@pytest.fixture
def seeded(store_url: str) -> str:
    """A store with rows from 1000 days ago and from now."""
    long_ago = datetime.now(UTC) - timedelta(days=1000)
    with open_store(store_url, clock=lambda: long_ago) as old:
        add_rows(old, "old")
    with open_store(store_url) as new:
        add_rows(new, "new")
    return store_url


def counts(store_url: str) -> tuple[int, int, int, int]:
    """(jobs, audit rows, sign-off pairs, live + expired sessions) in the store."""
    with open_store(store_url, migrate_schema=False) as store, store.db.read() as tx:
        found = []
        for table in ("jobs", "audit_log", "signoff_pairs", "smart_sessions"):
            row = tx.fetchone(f"SELECT COUNT(*) AS n FROM {table}")
            assert row is not None
            found.append(int(row["n"]))
    return found[0], found[1], found[2], found[3]


def test_dry_run_prints_counts_per_kind_and_deletes_nothing(
    seeded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, seeded, "audit_log_days = 365")
    assert main(["store", "purge", "--config", str(config), "--dry-run"]) == 0
    out = capsys.readouterr().out
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.startswith("  ")}
    assert "dry run" in out.splitlines()[0]
    assert lines["finished_jobs"].endswith("keep 90 days     1 rows would be deleted")
    assert lines["smart_sessions"].endswith("1 rows would be deleted")
    assert lines["audit_log"].endswith("keep 365 days    1 rows would be deleted")
    assert "kept forever" in lines["signoff_pairs"] and "kept forever" in lines["cds_feedback"]
    assert out.splitlines()[-1] == "total: 3 rows would be deleted"
    assert counts(seeded) == (4, 2, 2, 2)
    assert SECRET_TEXT not in out and "jane-roe" not in out


def test_purge_deletes_and_reports_json(
    seeded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path, seeded, 'signoff_pairs_days = 30\ngrading_cache_days = "forever"'
    )
    assert main(["store", "purge", "--config", str(config), "--json"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out)
    assert report["dry_run"] is False and report["total_rows"] == 3
    kinds = report["kinds"]
    assert {k: v["rows"] for k, v in kinds.items() if v["rows"]} == {
        "finished_jobs": 1,
        "smart_sessions": 1,
        "signoff_pairs": 1,
    }
    assert kinds["grading_cache"]["keep"] == "forever"
    assert kinds["audit_log"] == {
        "keep": "forever",
        "keep_days": None,
        "older_than": None,
        "rows": 0,
        "error": None,
    }
    assert kinds["smart_sessions"]["keep"] == "expired"
    finished = kinds["finished_jobs"]
    assert finished["keep_days"] == 90
    age = datetime.fromisoformat(report["at"]) - datetime.fromisoformat(finished["older_than"])
    assert age == timedelta(days=90)
    assert counts(seeded) == (3, 2, 1, 1)  # the old queued job stays
    assert SECRET_TEXT not in out and "jane-roe" not in out
    assert main(["store", "purge", "--config", str(config), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total_rows"] == 0


@pytest.mark.parametrize(
    "retention,key",
    [
        ("audit_log_days = 0", "store.retention.audit_log_days"),
        ('purge_interval_h = "forever"', "store.retention.purge_interval_h"),
        ("audit_days = 30", "store.retention.audit_days"),
    ],
)
def test_bad_retention_config_exits_2_with_one_line(
    retention: str, key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/s.sqlite3", retention)
    assert main(["store", "purge", "--config", str(config)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("deepdr-fhir store: invalid configuration: ")
    assert key in err[0] and str(config) in err[0]


def test_a_missing_sqlite_store_exits_2_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/nowhere/s.sqlite3")
    assert main(["store", "purge", "--config", str(config), "--dry-run"]) == 2
    assert "no SQLite store at" in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists()


def test_migrate_brings_an_old_schema_up_then_purge_runs(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    older = tmp_path / "migrations"
    older.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql"))[:3]:
        shutil.copy(path, older)
    db = Database(store_url)
    try:
        migrate(db, older)
        latest = len(load_migrations(db.dialect))
        assert 0 < schema_version(db) < latest
    finally:
        db.close()
    config = write_config(tmp_path, store_url)
    assert main(["store", "purge", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"is version {latest - 1}, this release's is {latest}" in err
    assert "deepdr-fhir store migrate" in err
    assert main(["store", "migrate", "--config", str(config), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"schema_version": latest, "applied": [latest]}
    assert main(["store", "migrate", "--config", str(config)]) == 0
    assert capsys.readouterr().out == f"store schema version {latest} (up to date)\n"
    assert main(["store", "purge", "--config", str(config)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "total: 0 rows deleted"


def test_an_unreachable_postgresql_store_exits_2_without_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql://deepdr:pw-SECRET@127.0.0.1:1/deepdr?connect_timeout=1"
    config = write_config(tmp_path, url)
    for action in ("purge", "migrate"):
        assert main(["store", action, "--config", str(config)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("deepdr-fhir store: store.url: the store cannot be opened")
        assert "SECRET" not in err and len(err.strip().splitlines()) == 1


def test_a_kind_that_fails_exits_1_after_purging_the_others(
    seeded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_store(seeded, migrate_schema=False) as store, store.db.transaction() as tx:
        tx.execute("DROP TABLE cds_feedback")
    config = write_config(tmp_path, seeded, "cds_feedback_days = 30")
    assert main(["store", "purge", "--config", str(config)]) == 1
    lines = {ln.split()[0]: ln for ln in capsys.readouterr().out.splitlines() if ln[:2] == "  "}
    assert "keep 30 days     failed: " in lines["cds_feedback"]
    assert "store error" in lines["cds_feedback"]
    assert lines["finished_jobs"].endswith("1 rows deleted")
    assert counts(seeded)[0] == 3
