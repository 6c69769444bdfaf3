"""Numbered schema migrations, applied at start-up.

Files in `migrations/`: `NNNN_name.sql` in the SQL subset both databases speak, or a pair
`NNNN_name.sqlite.sql` + `NNNN_name.postgresql.sql` where they must differ. Each applied
version is a row of `schema_version` with the file's checksum, so an edited migration is
caught instead of silently diverging between installations.

Safe when several processes start together (gunicorn workers, a worker process): the
whole check-and-apply runs in one transaction that first takes PostgreSQL's
transaction-scoped advisory lock, or on SQLite the database write lock (BEGIN IMMEDIATE);
latecomers wait, then find nothing left to do. DDL is transactional on both, so a failed
migration leaves the schema as it was.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from plugin.store.clock import Clock, to_ms, utc_now
from plugin.store.database import Database, Transaction
from plugin.store.dialect import Dialect
from plugin.store.errors import MigrationError, StoreError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+?)(?:\.(sqlite|postgresql))?\.sql$")
# Arbitrary constant naming "the deepdr-fhir migration lock" among advisory locks.
_ADVISORY_LOCK_KEY = 0x6465_6570_6472


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.strip().encode("utf-8")).hexdigest()

    def statements(self) -> list[str]:
        return split_statements(self.sql)


def split_statements(sql: str) -> list[str]:
    """Splits on `;` at the end of a line, dropping `--` comment lines. Migrations keep
    each statement's terminating `;` at a line end and never put one inside a literal."""
    lines = [ln for ln in sql.splitlines() if not ln.lstrip().startswith("--")]
    parts = re.split(r";[ \t]*(?:\n|$)", "\n".join(lines))
    return [p.strip() for p in parts if p.strip()]


def load_migrations(dialect: Dialect, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    common: dict[int, Path] = {}
    specific: dict[int, Path] = {}
    names: dict[int, str] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"migration file name not understood: {path.name}")
        version, name, only_for = int(match[1]), match[2], match[3]
        if names.setdefault(version, name) != name:
            raise MigrationError(f"two migrations numbered {version:04d}")
        if only_for is None:
            common[version] = path
        elif only_for == dialect.value:
            specific[version] = path
    chosen = {**common, **specific}
    for version in names:
        if version not in chosen:
            raise MigrationError(f"migration {version:04d} has no file for {dialect}")
    versions = sorted(chosen)
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError("migrations must be numbered 0001, 0002, ... without gaps")
    return [Migration(v, names[v], chosen[v].read_text(encoding="utf-8")) for v in versions]


def migrate(db: Database, directory: Path = MIGRATIONS_DIR, clock: Clock = utc_now) -> list[int]:
    """Brings the schema up to date; returns the versions applied by this call."""
    migrations = load_migrations(db.dialect, directory)
    try:
        with db.transaction() as tx:
            if db.dialect is Dialect.POSTGRES:
                tx.fetchone("SELECT pg_advisory_xact_lock(?)", (_ADVISORY_LOCK_KEY,))
            tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                " checksum TEXT NOT NULL, applied_ms BIGINT NOT NULL)"
            )
            return _apply_missing(tx, migrations, to_ms(clock()))
    except MigrationError:
        raise
    except StoreError as exc:
        raise MigrationError(f"schema migration failed: {exc}") from exc


def _apply_missing(tx: Transaction, migrations: list[Migration], now_ms: int) -> list[int]:
    applied = {
        int(r["version"]): str(r["checksum"])
        for r in tx.fetchall("SELECT version, checksum FROM schema_version")
    }
    known = {m.version: m for m in migrations}
    newest_known = max(known, default=0)
    if applied and max(applied) > newest_known:
        raise MigrationError(
            f"database schema version {max(applied)} is newer than this code's "
            f"({newest_known}): upgrade the application"
        )
    for version, checksum in applied.items():
        if known[version].checksum != checksum:
            raise MigrationError(f"migration {version:04d} was changed after it was applied")
    done: list[int] = []
    for migration in migrations:
        if migration.version in applied:
            continue
        for statement in migration.statements():
            tx.execute(statement)
        tx.execute(
            "INSERT INTO schema_version (version, name, checksum, applied_ms) VALUES (?,?,?,?)",
            (migration.version, migration.name, migration.checksum, now_ms),
        )
        done.append(migration.version)
    return done


def schema_version(db: Database) -> int:
    """The highest applied version, 0 for an empty database."""
    with db.read() as tx:
        row = tx.fetchone("SELECT MAX(version) AS v FROM schema_version")
    return int(row["v"]) if row and row["v"] is not None else 0
