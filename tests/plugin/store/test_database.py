"""The DB-API layer: URLs, transactions, placeholders, typed errors, pooling."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugin.store import Database, StoreConfigError, StoreError, StoreOptions, StoreUnavailable
from plugin.store.dialect import Dialect, adapt_sql


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    database = Database(store_url)
    with database.transaction() as tx:
        tx.execute("CREATE TABLE notes (k TEXT PRIMARY KEY, v TEXT NOT NULL, n BIGINT)")
    yield database
    database.close()


@pytest.mark.parametrize(
    "url",
    ["mysql://x/y", "sqlite:///:memory:", "sqlite://", "notaurl", "sqlite:relative.db"],
)
def test_unusable_urls_are_refused_with_a_config_error(url: str) -> None:
    with pytest.raises(StoreConfigError):
        Database(url)


@pytest.mark.parametrize("below", ["", "/sub"])
def test_a_sqlite_folder_that_cannot_be_made_is_a_config_error(tmp_path: Path, below: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(StoreConfigError) as exc:
        Database(f"sqlite:///{blocker}{below}/store.sqlite3")
    reason = "File exists" if not below else "Not a directory"
    assert str(exc.value) == (
        f"the SQLite store's folder {blocker}{below} cannot be created ({reason})"
    )


def test_relative_and_absolute_sqlite_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    rel = Database("sqlite:///var/rel.sqlite3")
    with rel.transaction() as tx:
        tx.execute("CREATE TABLE t (x INTEGER)")
    rel.close()
    assert (tmp_path / "var" / "rel.sqlite3").is_file()
    absolute = Database(f"sqlite:///{tmp_path}/abs.sqlite3")
    with absolute.transaction() as tx:
        tx.execute("CREATE TABLE t (x INTEGER)")
    absolute.close()
    assert (tmp_path / "abs.sqlite3").is_file()


def test_placeholders_become_psycopg_style_and_percent_is_escaped() -> None:
    sql = "SELECT * FROM t WHERE a = ? AND b LIKE '50%'"
    assert adapt_sql(sql, Dialect.SQLITE) == sql
    assert adapt_sql(sql, Dialect.POSTGRES) == "SELECT * FROM t WHERE a = %s AND b LIKE '50%%'"


def test_commit_and_rollback(db: Database) -> None:
    with db.transaction() as tx:
        tx.execute("INSERT INTO notes (k, v) VALUES (?, ?)", ("a", "kept"))
    with pytest.raises(RuntimeError), db.transaction() as tx:
        tx.execute("INSERT INTO notes (k, v) VALUES (?, ?)", ("b", "rolled back"))
        raise RuntimeError("abort")
    with db.read() as tx:
        rows = tx.fetchall("SELECT k, v FROM notes ORDER BY k")
    assert rows == [{"k": "a", "v": "kept"}]


def test_literal_percent_with_and_without_parameters(db: Database) -> None:
    with db.transaction() as tx:
        tx.execute("INSERT INTO notes (k, v) VALUES ('p', '100%')")
        tx.execute("INSERT INTO notes (k, v) VALUES (?, '50%')", ("q",))
    with db.read() as tx:
        without = tx.fetchall("SELECT k FROM notes WHERE v = '100%'")
        with_params = tx.fetchall("SELECT v FROM notes WHERE k = ? AND v <> '100%'", ("q",))
    assert without == [{"k": "p"}]
    assert with_params == [{"v": "50%"}]


def test_upsert_and_bigint_round_trip(db: Database) -> None:
    big = 1_768_470_600_123  # epoch milliseconds need 64 bits
    with db.transaction() as tx:
        first = tx.execute(
            "INSERT INTO notes (k, v, n) VALUES (?, ?, ?) ON CONFLICT (k) DO NOTHING",
            ("x", "one", big),
        )
        second = tx.execute(
            "INSERT INTO notes (k, v, n) VALUES (?, ?, ?) ON CONFLICT (k) DO NOTHING",
            ("x", "two", 0),
        )
        updated = tx.execute(
            "INSERT INTO notes (k, v, n) VALUES (?, ?, ?)"
            " ON CONFLICT (k) DO UPDATE SET v = excluded.v",
            ("x", "three", 0),
        )
    assert (first, second, updated) == (1, 0, 1)
    with db.read() as tx:
        assert tx.fetchone("SELECT v, n FROM notes WHERE k = ?", ("x",)) == {
            "v": "three",
            "n": big,
        }


def test_constraint_violation_is_a_typed_error_without_the_values(db: Database) -> None:
    with db.transaction() as tx:
        tx.execute("INSERT INTO notes (k, v) VALUES (?, ?)", ("dup", "Patient/secret-123"))
    with pytest.raises(StoreError) as caught, db.transaction() as tx:
        tx.execute("INSERT INTO notes (k, v) VALUES (?, ?)", ("dup", "Patient/secret-123"))
    assert "secret" not in str(caught.value)
    assert "constraint" in str(caught.value)
    # The connection went back to the pool usable.
    with db.read() as tx:
        assert tx.fetchone("SELECT COUNT(*) AS n FROM notes") == {"n": 1}


def test_sql_error_is_typed_and_connection_stays_usable(db: Database) -> None:
    with pytest.raises(StoreError), db.read() as tx:
        tx.fetchall("SELECT no_such_column FROM notes")
    with db.read() as tx:
        assert tx.fetchall("SELECT k FROM notes") == []


def test_connections_are_pooled_across_threads(store_url: str) -> None:
    db = Database(store_url, StoreOptions(pool_size=2))
    with db.transaction() as tx:
        tx.execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        tx.execute("INSERT INTO counter (id, n) VALUES (1, 0)")
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(20):
                with db.transaction() as tx:
                    tx.execute("UPDATE counter SET n = n + 1 WHERE id = 1")
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.read() as tx:
        assert tx.fetchone("SELECT n FROM counter WHERE id = 1") == {"n": 120}
    db.close()


def test_exhausted_pool_raises_store_unavailable(store_url: str) -> None:
    db = Database(store_url, StoreOptions(pool_size=1, pool_timeout_s=0.05))
    with db.read(), pytest.raises(StoreUnavailable), db.read():
        pass
    db.close()


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/p.sqlite3", StoreOptions(busy_timeout_s=7))
    with db.read() as tx:
        assert tx.fetchone("PRAGMA journal_mode") == {"journal_mode": "wal"}
        assert tx.fetchone("PRAGMA foreign_keys") == {"foreign_keys": 1}
        assert tx.fetchone("PRAGMA busy_timeout") == {"timeout": 7000}
    db.close()


def test_unreachable_postgres_is_store_unavailable() -> None:
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    db = Database("postgresql://nobody@127.0.0.1:1/none", StoreOptions(connect_timeout_s=2))
    with pytest.raises(StoreUnavailable), db.read():
        pass


def test_forked_child_never_touches_the_parents_connections(store_url: str) -> None:
    """gunicorn forks workers from a master that may have opened the store: the child must
    open its own connections and leave the parent's alone (closing an inherited libpq
    connection would end the parent's session)."""
    db = Database(store_url)
    with db.read() as tx:
        assert tx.fetchone("SELECT 1 AS one") == {"one": 1}  # a pooled connection now exists
    pid = os.fork()
    if pid == 0:  # child: use the store, then leave without running any cleanup
        code = 1
        try:
            with db.transaction() as tx:
                tx.execute("CREATE TABLE from_child (x INTEGER)")
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with db.read() as tx:  # the parent's pooled connection still works
        assert tx.fetchone("SELECT COUNT(*) AS n FROM from_child") == {"n": 0}
    db.close()


@pytest.mark.integration
def test_pooled_connections_dropped_by_the_server_are_replaced(postgres_dsn: str) -> None:
    """After a PostgreSQL restart every pooled connection is dead; the next transaction
    must still succeed on a fresh one instead of failing once per stale connection."""
    db = Database(postgres_dsn, StoreOptions(pool_size=3))
    with db.read() as a, db.read() as b:  # two pooled connections
        pids = {
            a.fetchone("SELECT pg_backend_pid() AS p")["p"],
            b.fetchone("SELECT pg_backend_pid() AS p")["p"],
        }
    killer = Database(postgres_dsn)
    with killer.transaction() as tx:
        for pid in pids:
            tx.fetchone("SELECT pg_terminate_backend(?) AS ok", (pid,))
    killer.close()
    with db.read() as tx:
        row = tx.fetchone("SELECT pg_backend_pid() AS p")
    assert row is not None and row["p"] not in pids
    db.close()
