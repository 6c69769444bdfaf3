"""`deepdr-fhir demo --serve`: after the run, the test EHR + SMART app answer at the printed
URL until SIGTERM, then everything stops and the command exits 0."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]


def test_demo_serves_the_launch_page_until_sigterm() -> None:
    cmd = [sys.executable, "-m", "plugin.cli.main", "demo", "--serve", "--no-photos"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    try:
        url = None
        deadline = time.monotonic() + 180
        lines: list[str] = []
        while time.monotonic() < deadline and url is None:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if m := re.search(r"Open (http://127\.0\.0\.1:\d+/) to launch", line):
                url = m.group(1)
        assert url, "no launch URL printed:\n" + "".join(lines[-20:])
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200
        assert "launch" in page.text.lower()
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, rest
        assert "Servers stopped." in rest
        assert "Traceback" not in "".join(lines) + rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
