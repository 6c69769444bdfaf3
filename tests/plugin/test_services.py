"""build_services: the job handlers it registers from JOB_HANDLER_FACTORIES."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from plugin.config_loader import settings_from_mapping
from plugin.observability.health import CheckResult
from plugin.services import Services, build_services, bundle_check
from plugin.workflow.jobs import SCREENING_JOB

BuildServices = Callable[..., Services]


@pytest.fixture
def make_services(tmp_path: Path) -> Iterator[BuildServices]:
    built: list[Services] = []

    def make(config: dict[str, Any] | None = None) -> Services:
        config = dict(config or {})
        config.setdefault("store", {"url": f"sqlite:///{tmp_path}/services.sqlite3"})
        config.setdefault("jobs", {"in_process_workers": False})
        services = build_services(settings_from_mapping(config))
        built.append(services)
        return services

    yield make
    for services in built:
        services.close(timeout_s=1)


def test_the_screening_job_is_registered_when_a_system_fhir_server_is_configured(
    make_services: BuildServices,
) -> None:
    assert SCREENING_JOB not in make_services().handlers  # no fhir.base_url: no credentials
    services = make_services({"fhir": {"base_url": "http://127.0.0.1:9/fhir"}})
    assert SCREENING_JOB in services.handlers


def test_closers_run_once_last_added_first_and_late_ones_at_once(
    make_services: BuildServices,
) -> None:
    services = make_services()
    ran: list[str] = []
    services.add_closer(lambda: ran.append("first"))
    services.add_closer(lambda: ran.append("second"))

    def broken() -> None:
        ran.append("broken")
        raise RuntimeError("a pool that fails to close")

    services.add_closer(broken)
    services.close()
    services.close()
    assert ran == ["broken", "second", "first"]  # a failing closer stops none of the others
    services.add_closer(lambda: ran.append("late"))
    assert ran[-1] == "late"


def test_a_real_bundle_passes_the_readiness_check(tiny_grader_bundle: Path) -> None:
    assert bundle_check(tiny_grader_bundle) == CheckResult(True, "tiny 0.0.1")
    assert bundle_check(None) == CheckResult(False, "no model bundle configured and none shipped")
