"""Session-wide fixtures: real servers on 127.0.0.1, started once and stopped cleanly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from plugin.local_servers.fhir_server import LocalFhirServer


@pytest.fixture(scope="session")
def fhir_server() -> Iterator[LocalFhirServer]:
    """The real FHIR R4 server (Medplum in-memory router) on a free loopback port."""
    with LocalFhirServer() as server:
        yield server


@pytest.fixture(scope="session")
def fhir_base_url(fhir_server: LocalFhirServer) -> str:
    return fhir_server.base_url
