"""Starts and stops the bundled FHIR R4 server (servers/fhir: Medplum's in-memory router)
on a free loopback port. Used by the demo and the test fixtures; not for production, where
the EHR's own FHIR server is used."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path
from types import TracebackType

SERVER_DIR = Path(__file__).resolve().parents[2] / "servers" / "fhir"
START_TIMEOUT_S = 60.0


class LocalServerError(RuntimeError):
    pass


class LocalFhirServer:
    """`with LocalFhirServer() as srv: srv.base_url` -> "http://127.0.0.1:PORT/fhir/R4"."""

    def __init__(
        self, load: list[Path] | None = None, server_dir: Path = SERVER_DIR, validate: bool = False
    ) -> None:
        self._load = load or []
        self._validate = validate  # check resources on create/update, as Medplum's server does
        self._dir = server_dir
        self._proc: subprocess.Popen[str] | None = None
        self.base_url = ""

    def start(self) -> str:
        node = shutil.which("node")
        if node is None:
            raise LocalServerError("node is not installed (Node 20 is needed for the FHIR server)")
        if not (self._dir / "node_modules" / "@medplum" / "fhir-router").is_dir():
            raise LocalServerError(f"run `npm ci` in {self._dir} first (make setup does it)")
        cmd = [node, "server.mjs", "--port", "0"]
        for path in self._load:
            cmd += ["--load", str(path)]
        if self._validate:
            cmd.append("--validate")
        self._proc = subprocess.Popen(
            cmd,
            cwd=self._dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "NODE_ENV": "production"},
        )
        line = self._read_first_line(self._proc)
        if not line.startswith("LISTENING "):
            err = self._proc.stderr.read() if self._proc.stderr else ""
            self.stop()
            raise LocalServerError(f"FHIR server did not start: {line or err[-500:]}")
        self.base_url = line.split(" ", 1)[1].strip()
        return self.base_url

    @staticmethod
    def _read_first_line(proc: subprocess.Popen[str]) -> str:
        result: list[str] = []

        def read() -> None:
            assert proc.stdout is not None
            result.append(proc.stdout.readline())

        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(START_TIMEOUT_S)
        return result[0].strip() if result else ""

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()

    def __enter__(self) -> LocalFhirServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
