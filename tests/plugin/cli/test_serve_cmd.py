"""`deepdr-fhir serve` as a real process: gunicorn with 2 workers on a free loopback port,
health and metrics over HTTP, clean exit on SIGTERM; bad configuration exits 2."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-m", "plugin.cli.main"]
SHIPPED_METADATA = next(
    (Path(__file__).parents[3] / "models" / "grader" / "bundles").glob("*/metadata.json")
)
SECRET_TOKEN = "eyJhbGciOiJSUzM4NCJ9.eyJzdWIiOiJzZXJ2ZS10ZXN0In0.c2VydmUtc2VjcmV0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPDR_", "PROMETHEUS_"))}
    return {**env, **settings}


def wait_for_line(proc: subprocess.Popen[str], marker: str, timeout_s: float) -> str:
    found: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if marker in line:
                found.append(line)
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout_s)
    if not found:
        proc.kill()
        raise AssertionError(f"no {marker!r} line; stderr: {proc.communicate()[1][-2000:]}")
    return found[0]


def test_serve_runs_two_workers_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    bundle = tmp_path / "half-bundle"
    bundle.mkdir()
    shutil.copy(SHIPPED_METADATA, bundle / "metadata.json")
    env = clean_env(
        DEEPDR_STORE__URL=f"sqlite:///{tmp_path}/serve.sqlite3",
        DEEPDR_SERVER__PORT=str(port),
        DEEPDR_SERVER__WORKERS="2",
        DEEPDR_SERVER__THREADS="2",
        DEEPDR_SERVER__GRACEFUL_TIMEOUT_S="10",
        # A bundle whose model file went missing after start-up checks: /readyz must say
        # "not ready" and why (with the shipped bundle it would be ready).
        DEEPDR_GRADER__BUNDLE=str(bundle),
    )
    proc = subprocess.Popen(
        [*CLI, "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = wait_for_line(proc, "serving on", 90)
        base = f"http://127.0.0.1:{port}"
        assert base in line
        with httpx.Client(base_url=base, timeout=10) as client:
            for i in range(12):
                health = client.get(
                    f"/healthz?patient=Patient/{i}",
                    headers={"Authorization": f"Bearer {SECRET_TOKEN}", "X-Request-ID": f"s-{i}"},
                )
                assert health.status_code == 200 and health.headers["X-Request-ID"] == f"s-{i}"
            for i in range(3):  # errors are logged at INFO, with the route template only
                missing = client.get(
                    f"/Patient/{i}/nothing?name=Quartermain", headers={"X-Request-ID": f"m-{i}"}
                )
                assert missing.status_code == 404
            ready = client.get("/readyz")
            assert ready.status_code == 503
            checks = ready.json()["checks"]
            assert checks["store"]["ok"] is True
            assert checks["grader"] == {
                **checks["grader"],
                "ok": False,
                "detail": "model bundle 'half-bundle' lacks model.onnx",
            }
            text = client.get("/metrics").text
        counts = {
            tuple(sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "deepdr_http_request_duration_seconds_count"
        }
        # Multiprocess mode: one scrape sums the samples of both workers.
        assert counts[(("method", "GET"), ("route", "/healthz"), ("status", "200"))] == 12
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err[-2000:]
    assert err.count("Booting worker") == 2
    assert "Shutting down: Master" in err
    assert SECRET_TOKEN not in err + out and "Traceback" not in err
    assert '"request_id": "m-2"' in err and '"route": "<unmatched>"' in err
    assert "Quartermain" not in err


def test_serve_with_invalid_configuration_exits_2(tmp_path: Path) -> None:
    env = clean_env(DEEPDR_SERVER__WORKERS="0", DEEPDR_STORE__URL="mysql://x/y")
    result = subprocess.run(
        [*CLI, "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "  server.workers: Input should be greater than or equal to 1 [env DEEPDR_SERVER__WORKERS]",
        "  store.url: must start with sqlite:/// or postgresql:// [env DEEPDR_STORE__URL]",
        "deepdr-fhir serve: invalid configuration (2 problems above)",
    ]


def test_serve_reports_an_unopenable_store_in_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x", encoding="utf-8")
    env = clean_env(DEEPDR_STORE__URL=f"sqlite:///{blocker}/store.sqlite3")
    result = subprocess.run(
        [*CLI, "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"deepdr-fhir serve: invalid configuration: store.url: the SQLite store's folder "
        f"{blocker} cannot be created (File exists)\n"
    )
