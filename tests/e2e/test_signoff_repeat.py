"""A double click, and the very same sign-off form posted again, write one set of
resources: the If-Match guard refuses the repeat and the app recognises its own sign-off."""

from __future__ import annotations

from typing import Any

import httpx
from e2e_flows import launch_from_ehr, search, wait_for_review

from fhir_mappers.outbound.signoff_resources import SIGNOFF_KEY_SYSTEM
from plugin.smart_app.demo import DemoUi


def test_double_click_and_replay_sign_once(
    page: Any, ui: DemoUi, patient: str, fhir: httpx.Client
) -> None:
    launch_from_ehr(page, ui, patient)
    wait_for_review(page)
    action = page.get_attribute("#signoff-form", "action")
    fields = page.evaluate(
        "() => Array.from(new FormData(document.getElementById('signoff-form')).entries())"
    )
    page.dblclick("#sign-button")
    page.wait_for_selector("#done")
    assert "Signed" in page.inner_text("#done")

    # The same form again (what a retry after a lost response sends), with this
    # browser's cookie: no second write. Repeated field names need a raw form body.
    body = "&".join(f"{httpx.QueryParams({k: v})}" for k, v in fields)
    again = page.request.post(
        ui.app_base_url + action,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        data=body,
    )
    assert again.ok
    assert "already been saved" in again.text()

    subject = f"Patient/{patient}"
    report = search(fhir, "DiagnosticReport", subject=subject)[0]
    provenances = search(fhir, "Provenance", target=f"DiagnosticReport/{report['id']}")
    signoffs = [
        p
        for p in provenances
        if any(t.get("system") == SIGNOFF_KEY_SYSTEM for t in p.get("meta", {}).get("tag", []))
    ]
    assert len(signoffs) == 1
    assert len(search(fhir, "ServiceRequest", subject=subject)) == 1
    assert search(fhir, "CarePlan", subject=subject)[0]["meta"]["versionId"] != "1"
