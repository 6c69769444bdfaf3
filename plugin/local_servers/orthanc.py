"""Starts and stops a private Orthanc PACS with the DICOMweb plugin on a free loopback port,
with its own storage folder. Used by the tests and the demo; not for production, where the
health system's own PACS/VNA is used.

Installed by scripts/setup-system.sh (Debian `orthanc`, `orthanc-dicomweb`). The DICOM
network port is off, remote access is off (loopback only), and HTTP basic authentication
is on when users are given.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

from plugin.local_servers.fhir_server import LocalServerError

ORTHANC_BIN_CANDIDATES = ("/usr/sbin/Orthanc", "/usr/bin/Orthanc")
DICOMWEB_PLUGIN_CANDIDATES = (
    "/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
    "/usr/lib/orthanc/plugins/libOrthancDicomWeb.so",
)
START_TIMEOUT_S = 30.0
SHIM_SOURCE = Path(__file__).resolve().parents[2] / "servers" / "orthanc" / "loopback_bind.c"


def find_orthanc() -> tuple[str, str]:
    """(Orthanc binary, DICOMweb plugin); env ORTHANC_BIN / ORTHANC_DICOMWEB_PLUGIN override."""
    binary = os.environ.get("ORTHANC_BIN") or shutil.which("Orthanc")
    binary = binary or next((p for p in ORTHANC_BIN_CANDIDATES if os.path.exists(p)), None)
    plugin = os.environ.get("ORTHANC_DICOMWEB_PLUGIN") or next(
        (p for p in DICOMWEB_PLUGIN_CANDIDATES if os.path.exists(p)), None
    )
    if not binary or not plugin:
        raise LocalServerError(
            "Orthanc with the DICOMweb plugin is not installed (scripts/setup-system.sh installs "
            "the Debian packages orthanc and orthanc-dicomweb)"
        )
    return binary, plugin


def loopback_bind_shim(source: Path = SHIM_SOURCE) -> Path:
    """Builds (once) the LD_PRELOAD shim that makes Orthanc listen on 127.0.0.1 only: Orthanc
    1.10 has no bind-address setting and always listens on 0.0.0.0."""
    target = source.parent / "build" / "libloopbind.so"
    if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise LocalServerError("a C compiler (cc) is needed to build the Orthanc loopback shim")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    done = subprocess.run(
        [cc, "-shared", "-fPIC", "-O2", "-o", str(tmp), str(source), "-ldl"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise LocalServerError(f"could not build the Orthanc loopback shim: {done.stderr[-300:]}")
    os.replace(tmp, target)  # atomic: concurrent starters never see a half-written file
    return target


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalOrthanc:
    """`with LocalOrthanc(users={"u": "p"}) as pacs: pacs.dicomweb_url` ->
    "http://127.0.0.1:PORT/dicom-web"."""

    def __init__(
        self,
        storage_dir: Path | None = None,
        users: dict[str, str] | None = None,
        name: str = "DEEPDR-TEST",
    ) -> None:
        self._storage_dir = storage_dir
        self._own_dir: tempfile.TemporaryDirectory[str] | None = None
        self._users = dict(users or {})
        self._name = name
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.base_url}/dicom-web"

    @property
    def auth(self) -> tuple[str, str] | None:
        """Credentials of the first registered user (for loading test data)."""
        return next(iter(self._users.items()), None)

    def _config(self, storage: Path, port: int, plugin: str) -> dict[str, object]:
        return {
            "Name": self._name,
            "StorageDirectory": str(storage / "db"),
            "IndexDirectory": str(storage / "db"),
            "Plugins": [plugin],
            "HttpPort": port,
            "HttpServerEnabled": True,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": bool(self._users),
            "RegisteredUsers": self._users,
            "DicomServerEnabled": False,
            "OrthancExplorerEnabled": False,
            "WebDavEnabled": False,
            "ExecuteLuaEnabled": False,
            "HttpCompressionEnabled": False,
            "StorageCompression": False,
            "SaveJobs": False,
            "ConcurrentJobs": 1,
            "OverwriteInstances": True,
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False, "Ssl": False},
        }

    def start(self) -> str:
        binary, plugin = find_orthanc()
        env = {**os.environ, "LD_PRELOAD": str(loopback_bind_shim())}
        if self._storage_dir is None:
            self._own_dir = tempfile.TemporaryDirectory(prefix="orthanc-")
            storage = Path(self._own_dir.name)
        else:
            storage = self._storage_dir
            storage.mkdir(parents=True, exist_ok=True)
        last_error = ""
        for _ in range(3):  # the free port may be taken between probe and bind: retry
            self.port = free_loopback_port()
            config = storage / "orthanc.json"
            config.write_text(json.dumps(self._config(storage, self.port, plugin), indent=2))
            self._log = storage / "orthanc.log"
            with self._log.open("wb") as log:
                self._proc = subprocess.Popen(
                    [binary, str(config)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=storage,
                    env=env,
                )
            last_error = self._wait_ready()
            if not last_error:
                return self.dicomweb_url
            self._terminate()
        self.stop()
        raise LocalServerError(f"Orthanc did not start: {last_error}")

    def _wait_ready(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                return self._log_tail()
            try:
                r = httpx.get(f"{self.base_url}/system", auth=self.auth, timeout=2.0)
                if r.status_code == 200:
                    return ""
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        return "timed out waiting for /system"

    def _log_tail(self) -> str:
        if self._log and self._log.exists():
            return self._log.read_text(errors="replace")[-500:]
        return "exited"

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def stop(self) -> None:
        self._terminate()
        if self._own_dir is not None:
            self._own_dir.cleanup()
            self._own_dir = None

    def __enter__(self) -> LocalOrthanc:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
