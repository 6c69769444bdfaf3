"""The SMART app registers what it opens (the launch client's HTTP pool, the style fetcher)
with Services.add_closer: closed with the services, and closed at once when the services
were already closed (nothing registered late leaks)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Blueprint

from plugin.config_loader import settings_from_mapping
from plugin.services import Services, build_services
from plugin.smart_app import runtime as runtime_module
from plugin.smart_app import views_review
from plugin.smart_app.runtime import SmartRuntime, smart_runtime
from smart_launch import SessionCipher


@pytest.fixture
def services(tmp_path: Path, closed: list[str]) -> Iterator[Services]:
    settings = settings_from_mapping(
        {
            "server": {"public_base_url": "https://deepdr.example.org"},
            "store": {"url": f"sqlite:///{tmp_path}/store.sqlite3"},
            "jobs": {"in_process_workers": False},
            "smart": {"client_id": "deepdr", "session_keys": [SessionCipher.generate_key()]},
        }
    )
    built = build_services(settings)
    yield built
    built.close()


@pytest.fixture
def closed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records which SMART parts were closed (then closes them for real)."""
    seen: list[str] = []
    close_runtime = runtime_module.SmartRuntime.close
    close_styles = views_review.StyleFetcher.close

    def runtime_close(self: SmartRuntime) -> None:
        seen.append("runtime")
        close_runtime(self)

    def styles_close(self: views_review.StyleFetcher) -> None:
        seen.append("styles")
        close_styles(self)

    monkeypatch.setattr(runtime_module.SmartRuntime, "close", runtime_close)
    monkeypatch.setattr(views_review.StyleFetcher, "close", styles_close)
    return seen


def test_runtime_and_styles_close_with_the_services(services: Services, closed: list[str]) -> None:
    runtime = smart_runtime(services)
    assert runtime is not None
    views_review.register_review_routes(Blueprint("t", __name__), services, runtime)
    assert closed == []
    services.close()
    assert sorted(closed) == ["runtime", "styles"]


def test_parts_built_after_close_are_closed_at_once(services: Services, closed: list[str]) -> None:
    services.close()
    assert closed == ["runtime"]  # built with the services (the review job handler needs it)
    del services.extensions[runtime_module.EXTENSION_KEY]
    runtime = smart_runtime(services)
    assert runtime is not None
    assert closed == ["runtime", "runtime"]
    views_review.register_review_routes(Blueprint("t", __name__), services, runtime)
    assert closed == ["runtime", "runtime", "styles"]
