"""What a clinician does in the browser, as reusable steps, and a direct look at the FHIR
server to check what was written."""

from __future__ import annotations

from typing import Any

import httpx

from plugin.smart_app.demo import DemoUi


def search(fhir: httpx.Client, rtype: str, **params: str) -> list[dict[str, Any]]:
    response = fhir.get(f"/{rtype}", params={**params, "_count": "100"})
    response.raise_for_status()
    return [e["resource"] for e in response.json().get("entry", [])]


def launch_from_ehr(
    pg: Any, ui: DemoUi, patient_id: str, *, decision: str = "approve", untick: tuple[str, ...] = ()
) -> None:
    """Click the app's launch button on the EHR's patient list, then answer the consent."""
    pg.goto(ui.ehr_home_url)
    pg.click(f"a.launch[href*='patient={patient_id}']")
    pg.wait_for_selector("#consent")
    for scope in untick:
        pg.uncheck(f"#consent input[value='{scope}']")
    pg.click(f"#consent button[name='ehr_decision'][value='{decision}']")


def wait_for_review(pg: Any) -> None:
    """The review page polls its job and reloads when it is done."""
    pg.wait_for_selector("#signoff-form, .message-card", timeout=60_000)
