"""A small DB-API layer over SQLite (embedded default) and PostgreSQL (psycopg 3).

One code path: repositories call `db.transaction()` (write) or `db.read()` and run SQL in
the common subset through `Transaction.execute/fetchone/fetchall`; this module adapts
placeholders, opens and pools connections, sets SQLite up (WAL, busy timeout, foreign keys)
and turns driver errors into typed `StoreError`s whose messages carry no SQL parameters.

URLs: `sqlite:///relative/file.db`, `sqlite:////absolute/file.db` (SQLAlchemy's spelling),
`postgresql://user@host:port/dbname?options` (libpq conninfo, passed to psycopg as is).

Connections are pooled per process (web workers run threads). The pool notices a fork
(gunicorn preloading the app) and never reuses or closes a parent's connection in a child.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row

from plugin.store.dialect import Dialect, adapt_sql
from plugin.store.errors import StoreConfigError, StoreError, StoreUnavailable

Row = dict[str, Any]
Params = Sequence[Any]


@dataclass(frozen=True)
class StoreOptions:
    pool_size: int = 8
    pool_timeout_s: float = 30.0
    # How long a SQLite writer waits for the lock before StoreUnavailable.
    busy_timeout_s: float = 30.0
    connect_timeout_s: float = 10.0


class _Connection(Protocol):
    def close(self) -> None: ...


def _sqlite_row(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> Row:
    return {col[0]: v for col, v in zip(cursor.description, values, strict=True)}


def sqlite_path(url: str) -> Path:
    rest = url.removeprefix("sqlite://")
    if not rest.startswith("/") or rest in ("/", "/:memory:"):
        raise StoreConfigError(
            "SQLite store URL must name a file: sqlite:///relative.db or sqlite:////abs.db"
        )
    return Path(rest[1:])


def _dialect_of(url: str) -> Dialect:
    if url.startswith("sqlite://"):
        return Dialect.SQLITE
    if url.startswith(("postgresql://", "postgres://")):
        return Dialect.POSTGRES
    scheme = url.split(":", 1)[0] if ":" in url else "(none)"
    raise StoreConfigError(f"unsupported store URL scheme {scheme!r}: use sqlite or postgresql")


class Transaction:
    """SQL inside one open transaction. Obtained from `Database.transaction()/read()`."""

    def __init__(self, conn: Any, dialect: Dialect) -> None:
        self._conn = conn
        self.dialect = dialect

    def _run(self, sql: str, params: Params) -> Any:
        if not params:  # no placeholders: run verbatim (psycopg would not un-double `%%`)
            return self._conn.execute(sql)
        return self._conn.execute(adapt_sql(sql, self.dialect), tuple(params))

    def execute(self, sql: str, params: Params = ()) -> int:
        """Runs a statement; returns the number of rows it changed."""
        cur = self._run(sql, params)
        count: int = cur.rowcount
        return count

    def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self._run(sql, params).fetchone()
        return row

    def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        rows: list[Row] = self._run(sql, params).fetchall()
        return rows


class Database:
    """Pooled connections to one store. Thread-safe; create one per process."""

    def __init__(self, url: str, options: StoreOptions | None = None) -> None:
        self.dialect = _dialect_of(url)
        self._url = url
        self._options = options or StoreOptions()
        if self.dialect is Dialect.SQLITE:
            path = sqlite_path(url)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a file in the way, no permission, read-only disk
                raise StoreConfigError(
                    f"the SQLite store's folder {path.parent} cannot be created "
                    f"({exc.strerror or type(exc).__name__})"
                ) from None
            self._sqlite_file = path
        self._lock = threading.Condition()
        self._idle: list[Any] = []
        self._open = 0
        self._pid = os.getpid()
        self._inherited: list[Any] = []
        self._closed = False

    # -- connections -------------------------------------------------------------------

    def _connect(self) -> Any:
        opts = self._options
        if self.dialect is Dialect.SQLITE:
            conn = sqlite3.connect(
                self._sqlite_file,
                timeout=opts.busy_timeout_s,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,  # the pool hands a connection to one thread at a time
            )
            conn.row_factory = _sqlite_row
            conn.execute(f"PRAGMA busy_timeout = {int(opts.busy_timeout_s * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # durable enough with WAL, much faster
            conn.execute("PRAGMA foreign_keys = ON")
            return conn
        return psycopg.connect(
            self._url,
            autocommit=True,  # we issue BEGIN/COMMIT ourselves, as on SQLite
            row_factory=dict_row,
            connect_timeout=max(1, int(opts.connect_timeout_s)),
            application_name="deepdr-fhir",
        )

    def _after_fork(self) -> None:
        # A child must not touch its parent's sockets or SQLite handles: keep them
        # referenced (closing a libpq connection here would end the parent's session).
        self._inherited.extend(self._idle)
        self._idle = []
        self._open = 0
        self._pid = os.getpid()

    def _acquire(self) -> tuple[Any, bool]:
        """A connection and whether it was reused from the pool."""
        with self._lock:
            if self._closed:
                raise StoreUnavailable("store is closed")
            if os.getpid() != self._pid:
                self._after_fork()
            if not self._idle and self._open >= self._options.pool_size:
                if not self._lock.wait_for(
                    lambda: bool(self._idle) or self._open < self._options.pool_size,
                    timeout=self._options.pool_timeout_s,
                ):
                    raise StoreUnavailable("no free database connection (pool exhausted)")
            if self._idle:
                return self._idle.pop(), True
            self._open += 1
        try:
            return self._connect(), False
        except (sqlite3.Error, psycopg.Error) as exc:
            with self._lock:
                self._open -= 1
                self._lock.notify()
            raise StoreUnavailable(f"cannot connect to the {self.dialect} store") from exc

    def _release(self, conn: Any, healthy: bool) -> None:
        with self._lock:
            if os.getpid() != self._pid:  # forked while holding it: not ours to pool
                return
            if healthy and not self._closed:
                self._idle.append(conn)
            else:
                self._open -= 1
                _close_quietly(conn)
            self._lock.notify()

    def _discard_idle(self) -> None:
        with self._lock:
            if os.getpid() == self._pid:
                for conn in self._idle:
                    _close_quietly(conn)
                self._open -= len(self._idle)
                self._idle = []
                self._lock.notify_all()

    def close(self) -> None:
        """Closes idle connections; connections in use close when released."""
        with self._lock:
            self._closed = True
            if os.getpid() == self._pid:
                for conn in self._idle:
                    _close_quietly(conn)
            self._idle = []

    # -- transactions ------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A write transaction: committed when the block ends, rolled back on error.
        On SQLite it starts with BEGIN IMMEDIATE (takes the write lock up front, so two
        writers never deadlock upgrading a read lock)."""
        with self._begin("BEGIN IMMEDIATE" if self.dialect is Dialect.SQLITE else "BEGIN") as tx:
            yield tx

    @contextmanager
    def read(self) -> Iterator[Transaction]:
        """A read-only snapshot (takes no write lock on SQLite)."""
        begin = "BEGIN" if self.dialect is Dialect.SQLITE else "BEGIN READ ONLY"
        with self._begin(begin) as tx:
            yield tx

    @contextmanager
    def _begin(self, begin_sql: str) -> Iterator[Transaction]:
        conn = self._start(begin_sql)
        healthy = True
        try:
            try:
                yield Transaction(conn, self.dialect)
            except BaseException as exc:
                healthy = _rollback(conn, self.dialect)
                if isinstance(exc, sqlite3.Error | psycopg.Error):
                    raise _translate(exc, self.dialect) from exc
                raise
            try:
                conn.execute("COMMIT")
            except (sqlite3.Error, psycopg.Error) as exc:
                healthy = _rollback(conn, self.dialect)
                raise _translate(exc, self.dialect) from exc
        finally:
            self._release(conn, healthy)

    def _start(self, begin_sql: str) -> Any:
        """Begins a transaction. A pooled PostgreSQL connection the server has dropped
        (restart, failover, idle timeout) fails here; then the other idle ones are likely
        dead too: they are discarded and the transaction begins on a fresh connection."""
        for attempt in (1, 2):
            conn, reused = self._acquire()
            try:
                conn.execute(begin_sql)
                return conn
            except (sqlite3.Error, psycopg.Error) as exc:
                dropped = isinstance(exc, psycopg.OperationalError)
                self._release(conn, healthy=not dropped and _still_usable(conn, self.dialect))
                if not (dropped and reused and attempt == 1):
                    raise _translate(exc, self.dialect) from exc
                self._discard_idle()
        raise AssertionError("unreachable: the second attempt returns or raises")


def _close_quietly(conn: _Connection) -> None:
    try:
        conn.close()
    except Exception:  # closing a broken connection may itself fail; nothing to save
        pass


def _still_usable(conn: Any, dialect: Dialect) -> bool:
    if dialect is Dialect.SQLITE:
        return True
    return not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def _rollback(conn: Any, dialect: Dialect) -> bool:
    """Rolls back; returns whether the connection can go back to the pool."""
    try:
        conn.execute("ROLLBACK")
    except (sqlite3.Error, psycopg.Error):
        return False
    return _still_usable(conn, dialect)


def _translate(exc: Exception, dialect: Dialect) -> StoreError:
    """Driver error -> typed store error with a message free of SQL parameters."""
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return StoreUnavailable("SQLite store is locked by another writer (busy timeout)")
    if isinstance(exc, psycopg.OperationalError):
        return StoreUnavailable("lost the connection to the PostgreSQL store")
    if isinstance(exc, sqlite3.IntegrityError | psycopg.IntegrityError):
        return StoreError(f"{dialect} store rejected a write (constraint violation)")
    return StoreError(f"{dialect} store error ({type(exc).__name__})")
