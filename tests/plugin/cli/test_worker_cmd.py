"""`deepdr-fhir worker` as a real process: it runs jobs enqueued by another process (here:
a FHIR AuditEvent write to the real FHIR server) and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from plugin.config_loader import settings_from_mapping
from plugin.services import build_services
from plugin.store.audit import AuditEntry, AuditOutcome
from plugin.store.jobs import JobStatus

CLI = [sys.executable, "-m", "plugin.cli.main"]


def clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPDR_", "PROMETHEUS_"))}
    return {**env, **settings}


@pytest.mark.integration
def test_worker_runs_jobs_from_another_process_and_stops_on_sigterm(
    tmp_path: Path, fhir_base_url: str
) -> None:
    store_url = f"sqlite:///{tmp_path}/worker.sqlite3"
    config = {
        "store": {"url": store_url},
        "fhir": {"base_url": fhir_base_url},
        "audit": {"fhir_audit_events": True},
        "jobs": {"in_process_workers": False, "poll_interval_s": 0.1},
    }
    producer = build_services(settings_from_mapping(config))  # the "web process"
    env = clean_env(
        DEEPDR_STORE__URL=store_url,
        DEEPDR_FHIR__BASE_URL=fhir_base_url,
        DEEPDR_AUDIT__FHIR_AUDIT_EVENTS="true",
        DEEPDR_JOBS__POLL_INTERVAL_S="0.1",
    )
    proc = subprocess.Popen(
        [*CLI, "worker", "--threads", "1"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        started: list[str] = []
        reader = threading.Thread(target=lambda: started.append(proc.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(60)
        assert started and "kinds: fhir-audit-event" in started[0], started
        entry = AuditEntry(
            actor="client:worker-test",
            action="search",
            outcome=AuditOutcome.SUCCESS,
            resource_refs=("Patient/w-1",),
        )
        producer.audit.record(entry)
        job = producer.store.jobs.get_by_key(f"audit-event:{entry.id}")
        assert job is not None
        deadline = time.monotonic() + 60
        while (
            current := producer.store.jobs.get(job.id)
        ) and current.status != JobStatus.SUCCEEDED:
            assert current.status != JobStatus.FAILED, current.error
            assert time.monotonic() < deadline, "the worker did not run the job"
            time.sleep(0.1)
        stored = httpx.get(f"{fhir_base_url}/AuditEvent/deepdr-audit-{entry.id}")
        assert stored.status_code == 200
        assert stored.json()["agent"][0]["altId"] == "client:worker-test"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        producer.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err


def test_worker_refuses_bad_threads(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "worker", "--threads", "0"],
        env=clean_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (
        2,
        "deepdr-fhir worker: --threads must be between 1 and 64\n",
    )


def test_worker_reports_an_unopenable_store_in_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x", encoding="utf-8")
    result = subprocess.run(
        [*CLI, "worker"],
        env=clean_env(DEEPDR_STORE__URL=f"sqlite:///{blocker}/sub/store.sqlite3"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (
        2,
        f"deepdr-fhir worker: invalid configuration: store.url: the SQLite store's folder "
        f"{blocker}/sub cannot be created (Not a directory)\n",
    )
