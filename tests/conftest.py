"""Session-wide fixtures: real servers on 127.0.0.1, started once and stopped cleanly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from plugin.local_servers.fhir_server import LocalFhirServer
from plugin.store.local_postgres import LocalPostgres


@pytest.fixture(scope="session")
def fhir_server() -> Iterator[LocalFhirServer]:
    """The real FHIR R4 server (Medplum in-memory router) on a free loopback port."""
    with LocalFhirServer() as server:
        yield server


@pytest.fixture(scope="session")
def fhir_base_url(fhir_server: LocalFhirServer) -> str:
    return fhir_server.base_url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    """A real PostgreSQL server (Debian packages) on a free loopback port, for the session."""
    with LocalPostgres() as server:
        yield server


@pytest.fixture
def postgres_dsn(postgres_server: LocalPostgres) -> Iterator[str]:
    """DSN of a fresh, empty schema on that server (search_path set), dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield postgres_server.create_schema(schema)
    postgres_server.drop_schema(schema)
