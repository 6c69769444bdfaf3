"""Refused sign-ins: a forged or replayed `state`, a missing or wrong PKCE verifier, a
redirect URI the EHR does not know, an `iss` the app does not trust. Browser-level where a
browser is involved, plain HTTP where the attack skips the browser."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from e2e_flows import launch_from_ehr, wait_for_review

from plugin.local_servers.test_ehr.user_agent import EhrUserAgent, Redirect
from plugin.smart_app.demo import CLIENT_ID, DemoUi
from smart_launch.pkce import PkcePair


def test_forged_state_is_refused(page: Any, ui: DemoUi, patient: str) -> None:
    page.goto(ui.ehr_home_url)
    page.click(f"a.launch[href*='patient={patient}']")
    page.wait_for_selector("#consent")  # a launch is pending in this browser
    forged = f"{ui.app_base_url}/smart/callback?code=stolen&state={secrets.token_urlsafe(32)}"
    response = page.goto(forged)
    assert response is not None and response.status == 400
    assert "does not belong to your session" in page.inner_text("main")


def test_replayed_callback_is_refused(page: Any, ui: DemoUi, patient: str) -> None:
    callbacks: list[str] = []
    page.on("request", lambda r: callbacks.append(r.url) if "/smart/callback" in r.url else None)
    launch_from_ehr(page, ui, patient)
    wait_for_review(page)
    assert len(callbacks) == 1
    response = page.goto(callbacks[0])  # same code and state again
    assert response is not None and response.status == 400
    assert "does not belong to your session" in page.inner_text("main")


def test_the_app_always_sends_pkce_s256(page: Any, ui: DemoUi, patient: str) -> None:
    authorize: list[str] = []
    page.on("request", lambda r: authorize.append(r.url) if "/auth/authorize" in r.url else None)
    launch_from_ehr(page, ui, patient)
    wait_for_review(page)
    params = parse_qs(urlsplit(authorize[0]).query)
    assert params["code_challenge_method"] == ["S256"]
    assert len(params["code_challenge"][0]) == 43  # base64url of a SHA-256


def _authorization_code(ui: DemoUi, pkce: PkcePair, patient: str) -> tuple[str, str]:
    """A real code, obtained as the app would (standalone), but kept by the test."""
    redirect_uri = f"{ui.app_base_url}/smart/callback"
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": redirect_uri,
        "scope": "launch/patient openid fhirUser patient/Patient.r",
        "state": secrets.token_urlsafe(16),
        "aud": ui.iss,
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
    }
    agent = EhrUserAgent(ui.ehr.base_url)
    back = agent.authorize(f"{ui.ehr.base_url}/auth/authorize?{urlencode(params)}", patient=patient)
    agent.close()
    assert isinstance(back, Redirect) and back.url.startswith(redirect_uri)
    return back.params["code"], redirect_uri


def test_token_exchange_without_or_with_a_wrong_verifier_is_refused(
    ui: DemoUi, patient: str
) -> None:
    pkce = PkcePair.generate()
    code, redirect_uri = _authorization_code(ui, pkce, patient)
    token_url = f"{ui.ehr.base_url}/auth/token"
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": CLIENT_ID,
    }
    with httpx.Client(timeout=30) as http:
        missing = http.post(token_url, data=form)
        assert missing.status_code == 400
        assert missing.json()["error"] in ("invalid_request", "invalid_grant")
        wrong = http.post(token_url, data={**form, "code_verifier": PkcePair.generate().verifier})
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
        assert "access_token" not in missing.text + wrong.text


def test_unregistered_redirect_uri_is_refused_without_redirecting(page: Any, ui: DemoUi) -> None:
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": "http://127.0.0.1:9/attacker/callback",
        "scope": "launch/patient openid fhirUser patient/Patient.r",
        "state": secrets.token_urlsafe(16),
        "aud": ui.iss,
        "code_challenge": PkcePair.generate().challenge,
        "code_challenge_method": "S256",
    }
    response = page.goto(f"{ui.ehr.base_url}/auth/authorize?{urlencode(params)}")
    assert response is not None and response.status == 400
    assert page.url.startswith(ui.ehr.base_url)  # never sent to the unknown address
    assert "refused" in page.inner_text("main").lower()


def test_redirect_uri_must_match_at_the_token_endpoint(ui: DemoUi, patient: str) -> None:
    pkce = PkcePair.generate()
    code, _ = _authorization_code(ui, pkce, patient)
    with httpx.Client(timeout=30) as http:
        response = http.post(
            f"{ui.ehr.base_url}/auth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": CLIENT_ID,
                "redirect_uri": f"{ui.app_base_url}/elsewhere",
                "code_verifier": pkce.verifier,
            },
        )
    assert response.status_code == 400 and "access_token" not in response.text


def test_launch_naming_an_untrusted_iss_is_refused(page: Any, ui: DemoUi) -> None:
    response = page.goto(
        f"{ui.app_base_url}/smart/launch?iss=http%3A%2F%2F127.0.0.1%3A9%2Ffhir&launch=abc"
    )
    assert response is not None and response.status == 400
    assert "not registered with the EHR" in page.inner_text("main")
