"""Wiring: the grader provider backs off after a failed load; no blueprint without a
trusted CDS Client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from plugin.cds.wiring import RetryLater, create_cds_hooks_blueprint
from plugin.config_loader import settings_from_mapping
from plugin.services import build_services
from plugin.workflow.errors import GraderUnavailable


def test_a_failed_grader_load_is_not_retried_on_every_call() -> None:
    now = [100.0]
    attempts: list[float] = []
    outcome: list[Any] = [GraderUnavailable("bundle cannot be used")]

    def load() -> Any:
        attempts.append(now[0])
        if isinstance(outcome[0], Exception):
            raise outcome[0]
        return outcome[0]

    provider = RetryLater(load, pause_s=60, clock=lambda: now[0])
    for _ in range(3):
        with pytest.raises(GraderUnavailable):
            provider()
    assert attempts == [100.0]
    now[0] += 61
    outcome[0] = "a grader"
    assert provider() == "a grader" and attempts == [100.0, 161.0]


def test_no_trusted_client_no_endpoints(tmp_path: Path) -> None:
    services = build_services(
        settings_from_mapping({"store": {"url": f"sqlite:///{tmp_path}/s.sqlite3"}})
    )
    try:
        assert create_cds_hooks_blueprint(services) is None
        assert "cds" not in services.extensions
    finally:
        services.close()


def test_the_smart_link_points_at_the_apps_launch_route() -> None:
    from plugin.cds.wiring import SMART_LAUNCH_PATH
    from plugin.smart_app.runtime import LAUNCH_PATH

    assert SMART_LAUNCH_PATH == LAUNCH_PATH


def test_closing_the_services_closes_the_cds_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plugin.cds.wiring import CdsRuntime
    from plugin.workflow.grader import GRADER_EXTENSION

    closed: list[CdsRuntime] = []
    monkeypatch.setattr(CdsRuntime, "close", lambda self: closed.append(self))
    services = build_services(
        settings_from_mapping(
            {
                "store": {"url": f"sqlite:///{tmp_path}/s.sqlite3"},
                "cds": {
                    "issuers": [{"iss": "https://ehr.test", "jwks_url": "http://127.0.0.1:9/j"}]
                },
            }
        )
    )
    services.extensions[GRADER_EXTENSION] = object()  # no bundle load in the background
    try:
        assert create_cds_hooks_blueprint(services) is not None
    finally:
        services.close()
    assert closed == [services.extensions["cds"]]


def test_the_hooks_load_the_configured_grader_local_or_remote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plugin.cds import wiring

    asked: list[Any] = []
    monkeypatch.setattr(wiring, "load_configured_grader", lambda s: asked.append(s) or "g")
    remote = {"kind": "kserve-v2", "url": "http://127.0.0.1:9", "model_name": "dr"}
    services = build_services(
        settings_from_mapping(
            {
                "store": {"url": f"sqlite:///{tmp_path}/s.sqlite3"},
                "grader": {"remote": remote, "batch_size": 4},
            }
        )
    )
    try:
        assert wiring.grader_provider(services)() == "g"
    finally:
        services.close()
    assert asked == [services.settings.grader]
