"""`deepdr-fhir worker` purges the store on store.retention.purge_interval_h ("off": never)."""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from plugin.cli import worker_cmd
from plugin.config import RetentionSettings
from plugin.store import open_store
from plugin.store import retention_schedule as schedule_module


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("DEEPDR_", "PROMETHEUS_")):
            monkeypatch.delenv(name)


def test_no_schedule_when_off(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path}/s.sqlite3") as store:
        off = RetentionSettings(purge_interval_h=None)
        assert worker_cmd.retention_schedule(off, store, threading.Event()) is None


def test_schedule_starts_and_stops_with_the_worker(tmp_path: Path) -> None:
    stop = threading.Event()
    with open_store(f"sqlite:///{tmp_path}/s.sqlite3") as store:
        schedule = worker_cmd.retention_schedule(RetentionSettings(), store, stop)
        assert schedule is not None
        stop.set()  # before its first run (within a minute of the start)
        schedule.join(30)
        assert schedule.runs == 0


def _sessions(store_url: str) -> int:
    with open_store(store_url, migrate_schema=False) as store, store.db.read() as tx:
        row = tx.fetchone("SELECT COUNT(*) AS n FROM smart_sessions")
    assert row is not None
    return int(row["n"])


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The worker configures the root logger; put it back for the tests after this one."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_a_running_worker_purges_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store_url = f"sqlite:///{tmp_path}/worker.sqlite3"
    with open_store(store_url) as store:
        past = datetime.now(UTC) - timedelta(days=1)
        store.sessions.put("expired-session", b"sealed", past)
        store.sessions.put("live-session", b"sealed", datetime.now(UTC) + timedelta(hours=8))
    config = tmp_path / "deepdr.toml"
    config.write_text(
        f'[store]\nurl = "{store_url}"\n[jobs]\nin_process_workers = false\n', encoding="utf-8"
    )
    monkeypatch.setattr(schedule_module, "FIRST_RUN_WITHIN_S", 1.0)  # first purge after 1 s
    stop = threading.Event()
    codes: list[int] = []
    worker = threading.Thread(
        target=lambda: codes.append(
            worker_cmd.run(argparse.Namespace(config=str(config), threads=1), stop)
        )
    )
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while _sessions(store_url) != 1:
            assert worker.is_alive() and time.monotonic() < deadline, "no purge happened"
            time.sleep(0.1)
    finally:
        stop.set()
        worker.join(60)
    assert codes == [0]
    assert "store purge: every 24 h" in capsys.readouterr().out
    with open_store(store_url, migrate_schema=False) as store:
        assert store.sessions.get("live-session") is not None
