"""A SMART runtime built from settings, over an in-memory session backend; an EHR launch
at the test EHR driven to the review page."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from plugin.config_loader import settings_from_mapping
from plugin.local_servers.test_ehr.user_agent import EhrUserAgent, Redirect
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


@dataclass
class Launched:
    browser: httpx.Client
    review_url: str
    page: str


def _launch(ui: Any, launch_url: str) -> Launched:
    """A clinician at the test EHR opens `launch_url` (an EHR launch), signs in and consents;
    the returned page is the review once its job is done (polled, as the page itself does)."""
    agent = EhrUserAgent(ui.ehr.base_url)
    to_app = agent.open(launch_url)
    assert isinstance(to_app, Redirect)
    browser = httpx.Client(timeout=30, follow_redirects=False)
    started = browser.get(to_app.url)
    assert started.status_code == 302, started.text
    back = agent.authorize(started.headers["location"])
    done = browser.get(back.url)
    assert done.status_code == 303, done.text
    review_url = urljoin(ui.app_base_url, done.headers["location"])
    for _ in range(240):
        page = browser.get(review_url)
        if "progress-panel" not in page.text:
            break
        time.sleep(0.25)
    assert page.status_code == 200
    return Launched(browser, review_url, page.text)


@pytest.fixture
def launch_review() -> Iterator[Callable[[Any, str], Launched]]:
    """`launch_review(ui, launch_url)`: an EHR launch driven to the finished review page."""
    opened: list[Launched] = []

    def launch(ui: Any, launch_url: str) -> Launched:
        launched = _launch(ui, launch_url)
        opened.append(launched)
        return launched

    yield launch
    for launched in opened:
        launched.browser.close()
