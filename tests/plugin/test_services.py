"""build_services: the job handlers it registers from JOB_HANDLER_FACTORIES."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from plugin.config_loader import settings_from_mapping
from plugin.local_servers.test_ehr import LocalTestEhr, RegisteredClient, TestEhrSettings
from plugin.observability.health import CheckResult
from plugin.services import Services, build_services, bundle_check
from plugin.workflow.jobs import SCREENING_JOB
from smart_launch import SigningKey, jwks_document

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


@pytest.mark.integration
def test_the_system_token_is_the_backend_services_token_the_fhir_server_accepts(
    make_services: BuildServices, fhir_base_url: str, tmp_path: Path
) -> None:
    """The test EHR's token-checking FHIR proxy in front of the real FHIR server, and SMART
    Backend Services: services.system_token is what background jobs send to image URLs on
    that origin, the same token the system gateway uses."""
    key = SigningKey.generate("ES384")
    pem = tmp_path / "backend.pem"
    pem.write_text(key.private_key.as_pem(private=True).decode(), encoding="utf-8")
    client = RegisteredClient(
        client_id="deepdr-backend",
        auth_method="private_key_jwt",
        jwks=jwks_document([key]),
        grant_types=("client_credentials",),
        scope="system/Patient.rs",
    )
    patient = httpx.post(f"{fhir_base_url}/Patient", json={"resourceType": "Patient"}, timeout=30)
    pid = patient.json()["id"]
    with LocalTestEhr(TestEhrSettings(fhir_upstream=fhir_base_url, clients=(client,))) as ehr:
        auth = {
            "kind": "backend-services",
            "client_id": "deepdr-backend",
            "private_key_path": str(pem),
            "alg": "ES384",
            "scopes": ["system/Patient.rs"],
        }
        services = make_services({"fhir": {"base_url": ehr.fhir_base_url, "auth": auth}})
        assert services.system_token is not None and services.system_fhir is not None
        token = services.system_token()
        assert token and services.system_token() == token  # one client, its token cached
        url = f"{ehr.fhir_base_url}/Patient/{pid}"
        with httpx.Client(timeout=30) as http:
            assert http.get(url).status_code == 401
            assert http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert services.system_fhir.read("Patient", pid)["id"] == pid
