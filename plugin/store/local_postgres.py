"""Starts a throwaway PostgreSQL server from the Debian packages (scripts/setup-system.sh
installs them) on a free loopback port, for tests and local trials of the PostgreSQL
store. Not for production: no durability (fsync off), trust authentication on 127.0.0.1.

    with LocalPostgres() as pg:
        store = open_store(pg.dsn)

PostgreSQL refuses to run as root; when we are root the server runs as the `postgres`
system user through `runuser`, in a temp dir it owns.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

import psycopg

_BIN_GLOB = "/usr/lib/postgresql/*/bin"
_USER = "deepdr"
_START_TRIES = 3


class LocalPostgresError(RuntimeError):
    pass


def find_bindir() -> Path:
    """The newest PostgreSQL server binaries installed (Debian layout), else PATH."""
    candidates = sorted(
        Path("/").glob(_BIN_GLOB.lstrip("/")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for bindir in reversed(candidates):
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise LocalPostgresError(
        "PostgreSQL server binaries not found: install the Debian package `postgresql`"
        " (scripts/setup-system.sh does)"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LocalPostgres:
    def __init__(self, dbname: str = "deepdr") -> None:
        self.dbname = dbname
        self.dsn = ""
        self._dir: Path | None = None
        self._bindir: Path | None = None
        self._prefix: list[str] = []

    @property
    def data_dir(self) -> Path:
        assert self._dir is not None, "not started"
        return self._dir / "data"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        assert self._dir is not None
        return subprocess.run(
            [*self._prefix, *args],
            cwd=self._dir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def start(self) -> str:
        self._bindir = find_bindir()
        # Directly under the system temp dir: the `postgres` user must reach it, and the
        # unix socket path inside must stay short (about 100 bytes at most).
        self._dir = Path(tempfile.mkdtemp(prefix="deepdr-pg-"))
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                raise LocalPostgresError("running as root needs `runuser` to drop privileges")
            shutil.chown(self._dir, user="postgres", group="postgres")
            self._prefix = ["runuser", "-u", "postgres", "--"]
        try:
            self._initdb()
            port = self._start_server()
            self.dsn = f"postgresql://{_USER}@127.0.0.1:{port}/{self.dbname}"
            admin = f"postgresql://{_USER}@127.0.0.1:{port}/postgres"
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.dbname}"')
        except BaseException:
            self.stop()
            raise
        return self.dsn

    def create_schema(self, name: str) -> str:
        """Creates an empty schema; returns a DSN whose search_path is that schema, so a
        test gets a private namespace without the cost of a new database."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError("schema name must be a lowercase SQL identifier")
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return f"{self.dsn}?options={quote(f'-c search_path={name}')}"

    def drop_schema(self, name: str) -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError("schema name must be a lowercase SQL identifier")
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")

    def _initdb(self) -> None:
        assert self._bindir is not None
        done = self._run(
            str(self._bindir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            _USER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        if done.returncode != 0:
            raise LocalPostgresError(f"initdb failed: {done.stderr.strip()[-500:]}")

    def _start_server(self) -> int:
        assert self._bindir is not None and self._dir is not None
        error = ""
        for _ in range(_START_TRIES):  # the free port may be taken before the server binds it
            port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -k {self._dir}"
                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            done = self._run(
                str(self._bindir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self._dir / "server.log"),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            )
            if done.returncode == 0:
                return port
            error = self._log_tail() or done.stderr
        raise LocalPostgresError(f"PostgreSQL did not start: {error.strip()[-500:]}")

    def _log_tail(self) -> str:
        assert self._dir is not None
        log = self._dir / "server.log"
        return log.read_text(errors="replace")[-500:] if log.is_file() else ""

    def stop(self) -> None:
        if self._dir is None:
            return
        try:
            if self._bindir and (self.data_dir / "postmaster.pid").is_file():
                self._run(
                    str(self._bindir / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-m",
                    "fast",
                    "-w",
                    "stop",
                )
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
