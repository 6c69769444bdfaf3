"""A SMART runtime built from settings, over an in-memory session backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from plugin.config_loader import settings_from_mapping
from plugin.smart_app.runtime import SmartRuntime, build_runtime
from smart_launch import InMemorySessionBackend, SessionCipher


@pytest.fixture
def runtime() -> Iterator[SmartRuntime]:
    settings = settings_from_mapping(
        {
            "server": {"public_base_url": "https://deepdr.example.org"},
            "smart": {
                "client_id": "deepdr",
                "session_keys": [SessionCipher.generate_key()],
                "scopes": ["launch", "openid", "patient/Patient.r"],
            },
        }
    )
    rt = build_runtime(settings, InMemorySessionBackend())
    yield rt
    rt.close()
