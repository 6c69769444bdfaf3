"""Access tokens that expire during the review: the app refreshes them (rotating refresh
tokens at the test EHR) and the clinician notices nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from e2e_flows import launch_from_ehr, search, wait_for_review
from stub_grader import StubGrader

from plugin.smart_app.demo import DemoUi, serve_demo_ui
from plugin.smart_app.runtime import EXTENSION_KEY, SmartRuntime
from plugin.smart_app.web_session import slot_cookies

LIFETIME_S = 3


@pytest.fixture(scope="module")
def short_ui(fhir_base_url: str) -> Iterator[DemoUi]:
    with serve_demo_ui(fhir_base_url, grader=StubGrader(), token_lifetime_s=LIFETIME_S) as ui:
        yield ui


def test_expired_token_is_refreshed_and_signing_still_works(
    page: Any, short_ui: DemoUi, patient: str, fhir: httpx.Client
) -> None:
    launch_from_ehr(page, short_ui, patient)
    wait_for_review(page)
    loaded_at = time.time()
    time.sleep(LIFETIME_S + 1)  # every token issued so far has now expired
    page.click("#sign-button")
    page.wait_for_selector("#done")
    assert "Signed" in page.inner_text("#done")
    assert search(fhir, "DiagnosticReport", subject=f"Patient/{patient}")[0]["status"] == "final"

    runtime = short_ui.services.extensions[EXTENSION_KEY]
    assert isinstance(runtime, SmartRuntime)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    (session_id,) = slot_cookies(cookies).values()
    session = runtime.sessions.load(session_id)
    assert session is not None and session.tokens is not None
    assert session.tokens.refresh_token  # rotated, still there
    assert session.tokens.expires_at is not None
    assert session.tokens.expires_at > loaded_at + LIFETIME_S  # issued after the first expired
