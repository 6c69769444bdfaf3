"""Browser tests: headless Debian Chromium driven by Playwright, against the real app (create_app
under a WSGI server), the test EHR (authlib) and the real FHIR server, all on 127.0.0.1.

The grader is a deterministic stand-in (stub_grader.py); everything else is the product.
Set DEEPDR_SCREENSHOTS=DIR to keep the pages seen (stub grader, cartoon photographs); the
documentation screenshots come from scripts/make_screenshots.py (real photographs, shipped
grader)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helpers beside this file

from fixtures_data import create_patient  # noqa: E402
from stub_grader import StubGrader  # noqa: E402

from plugin.smart_app.demo import CHROMIUM, CHROMIUM_ARGS, DemoUi, serve_demo_ui  # noqa: E402

TIMEOUT_MS = 30_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: run scripts/setup-system.sh (installs Debian chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # launch() gives every run a fresh temporary user-data-dir; contexts isolate tests.
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture(scope="package")
def grader() -> StubGrader:
    return StubGrader()


@pytest.fixture(scope="package")
def ui(fhir_base_url: str, grader: StubGrader) -> Iterator[DemoUi]:
    with serve_demo_ui(fhir_base_url, grader=grader) as running:
        yield running


@pytest.fixture
def patient(fhir_base_url: str) -> str:
    return create_patient(fhir_base_url)


@pytest.fixture
def fhir(fhir_base_url: str) -> Iterator[httpx.Client]:
    """Direct HTTP to the FHIR server behind the EHR, to check what was written."""
    with httpx.Client(base_url=fhir_base_url, timeout=30) as client:
        yield client


@pytest.fixture
def shots(tmp_path: Path) -> Callable[[Any, str], Path]:
    """page -> PNG; also copied to $DEEPDR_SCREENSHOTS when set."""
    target = os.environ.get("DEEPDR_SCREENSHOTS")

    def shot(pg: Any, name: str, full_page: bool = True) -> Path:
        path = tmp_path / f"{name}.png"
        pg.screenshot(path=str(path), full_page=full_page)
        if target:
            Path(target).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(target) / path.name)
        return path

    return shot
