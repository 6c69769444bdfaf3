"""The review app over real HTTP without a browser (the scripted EHR user drives the test
EHR; httpx is the browser): cookies and headers for EHR iframes, CSRF and origin checks,
bad input that keeps the clinician's text, sessions bound to their launch, and screenings
without a grader (advice only, still signable)."""

from __future__ import annotations

import base64
import io
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx
import pytest
from PIL import Image

from plugin.local_servers.test_ehr.user_agent import EhrUserAgent, Redirect
from plugin.smart_app.demo import DemoUi, serve_demo_ui

pytestmark = pytest.mark.integration


def _jpeg() -> str:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (180, 80, 40)).save(out, format="JPEG")
    return base64.b64encode(out.getvalue()).decode("ascii")


def _patient(fhir_base_url: str, photo: bool = False) -> str:
    """A diabetic patient with labs (and, when asked, one photograph)."""
    pid = f"app-{uuid.uuid4().hex[:10]}"
    with httpx.Client(base_url=fhir_base_url, timeout=30) as http:
        http.put(
            f"/Patient/{pid}",
            json={
                "resourceType": "Patient",
                "id": pid,
                "name": [{"family": "Tan", "given": ["Wei"]}],
                "birthDate": "1958-02-03",
                "gender": "male",
            },
        )
        http.post(
            "/Condition",
            json={
                "resourceType": "Condition",
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]},
                "subject": {"reference": f"Patient/{pid}"},
                "onsetDateTime": "2010-01-01",
            },
        ).raise_for_status()
        http.post(
            "/Observation",
            json={
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
                "subject": {"reference": f"Patient/{pid}"},
                "effectiveDateTime": "2025-01-10",
                "valueQuantity": {
                    "value": 9.2,
                    "unit": "%",
                    "system": "http://unitsofmeasure.org",
                    "code": "%",
                },
            },
        ).raise_for_status()
        if photo:
            media = {
                "resourceType": "Media",
                "status": "completed",
                "subject": {"reference": f"Patient/{pid}"},
                "createdDateTime": "2025-01-10",
                "bodySite": {"coding": [{"system": "http://snomed.info/sct", "code": "8966001"}]},
                "content": {"contentType": "image/jpeg", "data": _jpeg()},
            }
            http.post("/Media", json=media).raise_for_status()
    return pid


@pytest.fixture(scope="module")
def ui(fhir_base_url: str) -> Iterator[DemoUi]:
    # No grader: a bundle path that does not exist (the app must say so and go on).
    with serve_demo_ui(fhir_base_url, settings={"grader": {"bundle": "/nonexistent/bundle"}}) as u:
        yield u


@dataclass
class Launched:
    browser: httpx.Client
    review_url: str
    set_cookie: str
    page: str


def launch(ui: DemoUi, patient: str) -> Launched:
    agent = EhrUserAgent(ui.ehr.base_url)
    to_app = agent.open(ui.launch_url(patient))
    assert isinstance(to_app, Redirect)
    browser = httpx.Client(timeout=30, follow_redirects=False)
    started = browser.get(to_app.url)
    assert started.status_code == 302
    back = agent.authorize(started.headers["location"])
    done = browser.get(back.url)
    assert done.status_code == 303
    review_url = urljoin(ui.app_base_url, done.headers["location"])
    for _ in range(120):
        page = browser.get(review_url)
        if "progress-panel" not in page.text:
            break
        time.sleep(0.25)
    assert page.status_code == 200
    return Launched(browser, review_url, started.headers["set-cookie"], page.text)


def form_fields(html: str, form_id: str) -> list[tuple[str, str]]:
    form = html.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)
    fields += re.findall(r'<textarea id="[^"]+" name="([^"]+)"[^>]*>([^<]*)</textarea>', form)
    return fields


def test_cookie_and_headers_fit_an_ehr(ui: DemoUi, fhir_base_url: str) -> None:
    run = launch(ui, _patient(fhir_base_url))
    cookie = run.set_cookie.lower()
    assert "httponly" in cookie and "path=/smart" in cookie
    assert "samesite=lax" in cookie and "secure" not in cookie  # loopback http fallback
    page = run.browser.get(run.review_url)
    csp = page.headers["Content-Security-Policy"]
    assert f"frame-ancestors 'self' {ui.ehr.base_url}" in csp
    assert "script-src 'self'" in csp and page.headers["Cache-Control"] == "no-store"
    assert "X-Frame-Options" not in page.headers


def test_without_a_grader_the_advice_is_drafted_and_signable(
    ui: DemoUi, fhir_base_url: str
) -> None:
    pid = _patient(fhir_base_url, photo=True)
    run = launch(ui, pid)
    assert "No grading: the image-grading model is not available" in run.page
    photo = run.browser.get(run.review_url + "image/0?size=thumb")  # shown, though not graded
    assert photo.status_code == 200, photo.text
    assert photo.headers["Content-Type"] == "image/jpeg"
    assert run.browser.get(run.review_url + "image/1?size=thumb").status_code == 404
    assert "/nonexistent" not in run.page  # no server paths shown to the clinician
    assert (
        'id="sign-button"' in run.page
        and "disabled" not in run.page.split('id="sign-button"', 1)[1].split(">", 1)[0]
    )
    fields = form_fields(run.page, "signoff-form")  # "version" repeats: send a raw body
    signed = run.browser.post(
        run.review_url + "sign",
        content=str(httpx.QueryParams(fields)),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": ui.app_base_url},
    )
    assert signed.status_code == 303 and "done=signed" in signed.headers["location"]
    plans = httpx.get(f"{fhir_base_url}/CarePlan", params={"subject": f"Patient/{pid}"}).json()
    assert [e["resource"]["status"] for e in plans["entry"]] == ["active"]
    reports = httpx.get(f"{fhir_base_url}/DiagnosticReport", params={"subject": f"Patient/{pid}"})
    assert not reports.json().get("entry")


def test_posts_need_the_csrf_token_and_our_origin(ui: DemoUi, fhir_base_url: str) -> None:
    pid = _patient(fhir_base_url)
    run = launch(ui, pid)
    fields = form_fields(run.page, "signoff-form")
    no_token = [(k, v) for k, v in fields if k != "csrf"]
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    refused = run.browser.post(
        run.review_url + "sign", content=str(httpx.QueryParams(no_token)), headers=headers
    )
    assert refused.status_code == 403 and "This form has expired" in refused.text
    foreign = run.browser.post(
        run.review_url + "sign",
        content=str(httpx.QueryParams(fields)),
        headers={**headers, "Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    plans = httpx.get(f"{fhir_base_url}/CarePlan", params={"subject": f"Patient/{pid}"}).json()
    assert [e["resource"]["status"] for e in plans["entry"]] == ["draft"]


def test_bad_input_keeps_what_the_clinician_typed(ui: DemoUi, fhir_base_url: str) -> None:
    run = launch(ui, _patient(fhir_base_url))
    fields = [
        (k, "" if k.startswith("text-") else v) for k, v in form_fields(run.page, "signoff-form")
    ]
    fields = [(k, v) for k, v in fields if k != "comment"] + [("comment", "Keep this comment")]
    answer = run.browser.post(
        run.review_url + "sign",
        content=str(httpx.QueryParams(fields)),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 422
    assert "A signed plan needs at least one advice item" in answer.text
    assert ">Keep this comment</textarea>" in answer.text
    assert "Traceback" not in answer.text


def test_a_session_opens_only_its_own_review(ui: DemoUi, fhir_base_url: str) -> None:
    first = launch(ui, _patient(fhir_base_url))
    second = launch(ui, _patient(fhir_base_url))
    # The second browser has no cookie for the first launch's slot.
    stolen = second.browser.get(first.review_url)
    assert stolen.status_code == 401 and "launch the app again" in stolen.text
    status = httpx.get(first.review_url + "status")  # no cookie at all
    assert status.status_code == 401


def test_launch_urls_need_their_parameters(ui: DemoUi) -> None:
    page = httpx.get(ui.app_base_url + "/smart/launch")
    assert page.status_code == 400 and "Launch the app from the EHR" in page.text
    callback = httpx.get(ui.app_base_url + "/smart/callback?code=x")
    assert callback.status_code == 400 and "does not belong to your session" in callback.text
