"""Schema migrations: applied once, in order, safely from several processes at once."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from plugin.store import Database, MigrationError
from plugin.store.dialect import Dialect
from plugin.store.migrate import load_migrations, migrate, schema_version, split_statements


def _write(directory: Path, name: str, sql: str) -> None:
    (directory / name).write_text(sql, encoding="utf-8")


def _tables(db: Database) -> set[str]:
    sql = (
        "SELECT name FROM sqlite_master WHERE type = 'table'"
        if db.dialect is Dialect.SQLITE
        else "SELECT table_name AS name FROM information_schema.tables"
        " WHERE table_schema = current_schema()"
    )
    with db.read() as tx:
        return {r["name"] for r in tx.fetchall(sql)}


def test_bundled_migrations_create_every_table_once(store_url: str) -> None:
    db = Database(store_url)
    first = migrate(db)
    again = migrate(db)
    assert first == list(range(1, len(first) + 1)) and first
    assert again == []
    assert schema_version(db) == first[-1]
    assert {
        "schema_version",
        "grading_cache",
        "jobs",
        "job_attempts",
        "cds_feedback",
        "signoff_pairs",
        "jwt_replay",
        "audit_log",
        "smart_sessions",
    } <= _tables(db)
    db.close()


def test_concurrent_start_applies_each_migration_once(store_url: str) -> None:
    """Several threads with their own pools race to migrate an empty database."""
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def start() -> None:
        db = Database(store_url)
        try:
            results.append(migrate(db))
        except BaseException as exc:  # collected and checked in the test thread
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=start) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    applied = sorted(v for r in results for v in r)
    assert applied == list(range(1, len(applied) + 1))  # each version exactly once
    assert sum(1 for r in results if r) == 1


@pytest.mark.slow
def test_concurrent_processes_migrate_once(store_url: str) -> None:
    code = (
        "import sys; from plugin.store import Database; from plugin.store.migrate import migrate;"
        "print(len(migrate(Database(sys.argv[1]))))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, store_url], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0]
    counts = sorted(int(o) for o in outputs)
    assert counts[:-1] == [0, 0] and counts[-1] >= 1


def test_per_dialect_file_wins_over_common(tmp_path: Path) -> None:
    _write(tmp_path, "0001_base.sql", "CREATE TABLE a (x INTEGER);")
    _write(
        tmp_path, "0002_ids.sqlite.sql", "CREATE TABLE b (id INTEGER PRIMARY KEY AUTOINCREMENT);"
    )
    _write(tmp_path, "0002_ids.postgresql.sql", "CREATE TABLE b (id BIGSERIAL PRIMARY KEY);")
    for dialect, marker in ((Dialect.SQLITE, "AUTOINCREMENT"), (Dialect.POSTGRES, "BIGSERIAL")):
        loaded = load_migrations(dialect, tmp_path)
        assert [m.version for m in loaded] == [1, 2]
        assert marker in loaded[1].sql


def test_dialect_specific_migrations_apply(store_url: str, tmp_path: Path) -> None:
    _write(
        tmp_path,
        "0001_ids.sqlite.sql",
        "CREATE TABLE b (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);",
    )
    _write(
        tmp_path, "0001_ids.postgresql.sql", "CREATE TABLE b (id BIGSERIAL PRIMARY KEY, v TEXT);"
    )
    db = Database(store_url)
    assert migrate(db, tmp_path) == [1]
    with db.transaction() as tx:
        tx.execute("INSERT INTO b (v) VALUES (?)", ("x",))
        tx.execute("INSERT INTO b (v) VALUES (?)", ("y",))
    with db.read() as tx:
        assert [r["id"] for r in tx.fetchall("SELECT id FROM b ORDER BY id")] == [1, 2]
    db.close()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"0001_a.sql": "", "0003_c.sql": ""}, "without gaps"),
        ({"0001_a.sql": "", "0001_b.sql": ""}, "two migrations"),
        ({"1_a.sql": ""}, "not understood"),
        ({"0001_a.postgresql.sql": ""}, "no file for sqlite"),
    ],
)
def test_malformed_migration_sets_are_refused(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    for name, sql in files.items():
        _write(tmp_path, name, sql)
    with pytest.raises(MigrationError, match=message):
        load_migrations(Dialect.SQLITE, tmp_path)


def test_edited_migration_is_detected(store_url: str, tmp_path: Path) -> None:
    _write(tmp_path, "0001_a.sql", "CREATE TABLE a (x INTEGER);")
    db = Database(store_url)
    migrate(db, tmp_path)
    _write(tmp_path, "0001_a.sql", "CREATE TABLE a (x INTEGER, y TEXT);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(db, tmp_path)
    db.close()


def test_database_newer_than_code_is_refused(store_url: str, tmp_path: Path) -> None:
    _write(tmp_path, "0001_a.sql", "CREATE TABLE a (x INTEGER);")
    _write(tmp_path, "0002_b.sql", "CREATE TABLE b (x INTEGER);")
    db = Database(store_url)
    migrate(db, tmp_path)
    (tmp_path / "0002_b.sql").unlink()
    with pytest.raises(MigrationError, match="newer than this code"):
        migrate(db, tmp_path)
    db.close()


def test_failed_migration_leaves_schema_unchanged(store_url: str, tmp_path: Path) -> None:
    _write(tmp_path, "0001_a.sql", "CREATE TABLE a (x INTEGER);")
    db = Database(store_url)
    migrate(db, tmp_path)
    _write(tmp_path, "0002_b.sql", "CREATE TABLE b (x INTEGER);\nTHIS IS NOT SQL;")
    with pytest.raises(MigrationError, match="schema migration failed"):
        migrate(db, tmp_path)
    assert schema_version(db) == 1
    assert "b" not in _tables(db)
    db.close()


def test_split_statements_drops_comments_and_keeps_order() -> None:
    sql = (
        "-- a comment; with a semicolon\nCREATE TABLE a (x INTEGER);\n\nCREATE INDEX i ON a (x);\n"
    )
    assert split_statements(sql) == ["CREATE TABLE a (x INTEGER)", "CREATE INDEX i ON a (x)"]
