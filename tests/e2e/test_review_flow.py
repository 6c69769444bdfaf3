"""The main flow in a real browser: EHR launch -> consent -> review (grading, lesion map,
facts, advice) -> edit -> sign off -> the FHIR server holds the final/active resources, the
referral order and the clinician's Provenance."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from e2e_flows import search, wait_for_review

from fhir_mappers.outbound.signoff_resources import SIGNOFF_KEY_SYSTEM
from plugin.smart_app.demo import DemoUi

ADDED = " Discussed with the patient today; B12 at the next blood test."


def test_ehr_launch_review_edit_and_sign(
    page: Any,
    ui: DemoUi,
    patient: str,
    fhir: httpx.Client,
    shots: Callable[..., Path],
) -> None:
    page.goto(ui.ehr_home_url)
    page.click(f"a.launch[href*='patient={patient}']")
    page.wait_for_selector("#consent")
    shots(page, "01-ehr-consent")
    page.click("#consent button[name='ehr_decision'][value='approve']")
    wait_for_review(page)

    # Honest labelling before signing.
    assert "AI draft — not a diagnosis until signed" in page.inner_text("#review-status")
    banner = page.inner_text(".patient-banner")
    assert "Maria Lopez" in banner and "1961-04-12" in banner

    # Grading per eye, with the overlay toggle showing a real lesion map over the photo.
    right = page.locator("article.eye", has_text="Right eye")
    assert "moderate NPDR" in right.inner_text()
    assert "Suspected" in right.locator(".finding", has_text="Referable DR").inner_text()
    page.wait_for_function(
        "() => { const i = document.getElementById('photo-right');"
        " return i.complete && i.naturalWidth === 768; }"
    )
    assert page.is_hidden("#overlay-right")
    right.get_by_label("Show lesion map").check()
    assert page.is_visible("#overlay-right")
    page.wait_for_function(
        "() => { const i = document.getElementById('overlay-right');"
        " return i.complete && i.naturalWidth === 768; }"
    )
    page.locator("#grading-title").scroll_into_view_if_needed()
    shots(page, "02-review-grading-overlay", full_page=False)

    # Facts with their dates and sources.
    facts = page.inner_text(".facts-table")
    assert "HbA1c" in facts and "8.4 %" in facts and "Observation/" in facts

    # Edit the first advice item; its citation is one click away.
    first = page.locator("#text-0")
    edited = first.input_value() + ADDED
    page.locator("#why-0 summary").click()
    assert page.locator("#why-0 .citation").count() >= 1
    first.fill(edited)
    page.fill("#comment", "Photographs reviewed; agree with the grading.")
    assert page.is_checked("input[name='referral']")
    page.locator("#advice-title").scroll_into_view_if_needed()
    shots(page, "03-advice-editing", full_page=False)

    page.click("#sign-button")
    page.wait_for_selector("#done")
    assert "Signed" in page.inner_text("#done")
    status = page.inner_text("#review-status")
    assert status.startswith("Signed") and "Test Clinician" in status
    page.evaluate("window.scrollTo(0, 0)")
    shots(page, "04-signed", full_page=False)

    # What the FHIR server holds now (read directly, not through the app).
    subject = f"Patient/{patient}"
    reports = search(fhir, "DiagnosticReport", subject=subject)
    assert [r["status"] for r in reports] == ["final"]
    report = reports[0]
    assert report["resultsInterpreter"] == [{"reference": "Practitioner/ehr-clinician"}]
    assert {s["code"] for s in report["meta"]["security"]} == {"AIAST", "CLINAST"}
    assert report["conclusion"].endswith(
        "Clinician's comment: Photographs reviewed; agree with the grading."
    )
    observations = search(fhir, "Observation", subject=subject)
    ours = [o for o in observations if "device" in o]
    assert ours and {o["status"] for o in ours} == {"final"}
    plans = search(fhir, "CarePlan", subject=subject)
    assert [(p["status"], p["intent"]) for p in plans] == [("active", "plan")]
    assert plans[0]["activity"][0]["detail"]["description"] == edited
    orders = search(fhir, "ServiceRequest", subject=subject)
    assert [(o["status"], o["intent"]) for o in orders] == [("active", "order")]
    provenances = search(fhir, "Provenance", target=f"DiagnosticReport/{report['id']}")
    signoffs = [
        p
        for p in provenances
        if any(t.get("system") == SIGNOFF_KEY_SYSTEM for t in p.get("meta", {}).get("tag", []))
    ]
    assert len(signoffs) == 1
    prov = signoffs[0]
    assert prov["agent"][0]["who"] == {"reference": "Practitioner/ehr-clinician"}
    assert prov["signature"][0]["type"][0]["code"] == "1.2.840.10065.1.12.1.5"
    targets = {t["reference"] for t in prov["target"]}
    assert (
        f"CarePlan/{plans[0]['id']}" in targets and f"ServiceRequest/{orders[0]['id']}" in targets
    )
