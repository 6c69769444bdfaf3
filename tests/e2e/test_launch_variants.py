"""Launches other than the happy EHR launch: standalone (patient picked at the EHR), consent
denied, fewer scopes granted than asked."""

from __future__ import annotations

from typing import Any

import httpx
from e2e_flows import launch_from_ehr, search, wait_for_review

from plugin.smart_app.demo import DemoUi


def test_standalone_launch_picks_the_patient_at_the_ehr(
    page: Any, ui: DemoUi, fhir_base_url: str
) -> None:
    from fixtures_data import create_patient

    pid = create_patient(fhir_base_url, given="Ahmed", family="Karimi")
    page.goto(ui.app_base_url + "/smart/launch/standalone")
    page.wait_for_selector("#patient-picker")
    page.check(f"#patient-picker input[value='{pid}']")
    page.click("#patient-picker button[type='submit']")
    page.wait_for_selector("#consent")
    scopes = page.eval_on_selector_all(
        "#consent input[name='ehr_scope']", "els => els.map(e => e.value)"
    )
    assert "launch/patient" in scopes and "launch" not in scopes
    page.click("#consent button[name='ehr_decision'][value='approve']")
    wait_for_review(page)
    assert "Ahmed Karimi" in page.inner_text(".patient-banner")
    assert page.is_enabled("#sign-button")


def test_denied_consent_shows_a_clear_message(page: Any, ui: DemoUi, patient: str) -> None:
    responses: list[Any] = []
    page.on("response", lambda r: responses.append(r) if "/smart/callback" in r.url else None)
    launch_from_ehr(page, ui, patient, decision="deny")
    page.wait_for_selector("#error-title")
    assert "Access to the patient record was not granted" in page.inner_text("main")
    assert [r.status for r in responses] == [403]
    assert "error=access_denied" in responses[0].url


def test_fewer_scopes_review_only_with_the_reason(
    page: Any, ui: DemoUi, patient: str, fhir: httpx.Client
) -> None:
    launch_from_ehr(page, ui, patient, untick=("user/DiagnosticReport.cru",))
    wait_for_review(page)
    notices = page.inner_text("main")
    assert (
        "You can review but not sign: your EHR did not grant write access (DiagnosticReport)"
        in notices
    )
    assert page.is_disabled("#sign-button")
    assert page.locator("#reject-form").count() == 0
    # The grading and advice are still shown, but nothing was written as the clinician.
    assert "moderate NPDR" in page.inner_text("article.eye >> nth=0")
    assert search(fhir, "DiagnosticReport", subject=f"Patient/{patient}") == []
    assert search(fhir, "CarePlan", subject=f"Patient/{patient}") == []
