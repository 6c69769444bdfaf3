"""Kill -9 a worker process in the middle of a job; a new worker finishes it, and its
effect on the real FHIR server exists exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from plugin.store import open_store
from plugin.store.jobs import Job, JobStatus

pytestmark = [pytest.mark.integration, pytest.mark.slow]

T = TypeVar("T")

SCRIPT = Path(__file__).with_name("worker_process.py")
IDENTIFIER_SYSTEM = "urn:deepdr-fhir:test:job"
DEADLINE_S = 90.0  # generous: the machine may be busy; this bounds a hang, it times nothing


def _start_worker(
    store_url: str, fhir: str, worker_id: str, marker: Path | None
) -> subprocess.Popen[str]:
    cmd = [
        sys.executable,
        str(SCRIPT),
        "--store",
        store_url,
        "--fhir",
        fhir,
        "--worker-id",
        worker_id,
    ]
    if marker is not None:
        cmd += ["--block-after-effect", str(marker)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(condition: Callable[[], T | None], what: str, proc: subprocess.Popen[str]) -> T:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"worker exited ({proc.returncode}) before {what}: {err[-2000:]}")
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def test_job_killed_mid_way_completes_once_after_restart(
    store_url: str, fhir_base_url: str, tmp_path: Path
) -> None:
    business_id = f"screening-{os.getpid()}-{time.time_ns()}"
    marker = tmp_path / "mid-way.json"
    with open_store(store_url) as store:
        job, _ = store.jobs.enqueue(
            "fhir-conditional-create",
            {"business_id": business_id},
            idempotency_key=f"create:{business_id}",
            max_attempts=3,
        )

        first = _start_worker(store_url, fhir_base_url, "first", marker)
        try:
            _wait_for(lambda: marker.exists() or None, "the handler reached mid-way", first)
            mid = store.jobs.get(job.id)
            assert mid is not None and mid.status is JobStatus.RUNNING and mid.progress == 60
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=30)
        finally:
            if first.poll() is None:
                first.kill()
            first.communicate()
        assert first.returncode == -signal.SIGKILL
        first_effect = json.loads(marker.read_text(encoding="utf-8"))

        second = _start_worker(store_url, fhir_base_url, "second", None)
        try:

            def finished() -> Job | None:
                current = store.jobs.get(job.id)
                return current if current is not None and current.finished else None

            done = _wait_for(finished, "the job to finish after the restart", second)
            second.send_signal(signal.SIGTERM)  # graceful stop
            assert second.wait(timeout=30) == 0
        finally:
            if second.poll() is None:
                second.kill()
            second.communicate()

        assert done.status is JobStatus.SUCCEEDED
        assert done.attempts == 2
        # The second run found the first run's resource instead of creating another.
        assert done.result == {"id": first_effect["id"], "http_status": 200}
        assert first_effect["http_status"] == 201
        attempts = store.jobs.attempts(job.id)
        assert [(a.attempt, a.worker, a.outcome) for a in attempts] == [
            (1, "first", "lost"),
            (2, "second", "succeeded"),
        ]

    found = httpx.get(
        f"{fhir_base_url}/Basic",
        params={"identifier": f"{IDENTIFIER_SYSTEM}|{business_id}"},
        timeout=30,
    ).json()
    assert found["total"] == 1
    assert [e["resource"]["id"] for e in found["entry"]] == [first_effect["id"]]
