"""The test EHR as an OAuth 2.0 / SMART server: discovery documents, and every request it must
refuse (wrong redirect, no PKCE, plain PKCE, wrong verifier, replayed code, forged consent,
bad client credentials, replayed or mis-addressed client assertions, missing or insufficient
tokens at the FHIR proxy). Real HTTP against the EHR on 127.0.0.1 and the real FHIR server."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from plugin.local_servers.test_ehr import LocalTestEhr, RegisteredClient, TestEhrSettings
from plugin.local_servers.test_ehr.user_agent import EhrUserAgent, Redirect, parse_forms
from smart_launch import AsymmetricClient, SigningKey, jwks_document
from smart_launch.client_auth import CLIENT_ASSERTION_TYPE
from smart_launch.pkce import PkcePair

pytestmark = pytest.mark.integration

REDIRECT = "http://127.0.0.1:9/cb"
PATIENT = "test-ehr-p1"
OTHER_PATIENT = "test-ehr-p2"
BACKEND_KEY = SigningKey.generate("RS384")


@pytest.fixture(scope="module")
def ehr(fhir_base_url: str) -> Iterator[LocalTestEhr]:
    for pid in (PATIENT, OTHER_PATIENT):
        body = {"resourceType": "Patient", "id": pid, "name": [{"family": "Ehr", "given": [pid]}]}
        httpx.put(f"{fhir_base_url}/Patient/{pid}", json=body, timeout=30).raise_for_status()
    settings = TestEhrSettings(
        fhir_upstream=fhir_base_url,
        clients=(
            RegisteredClient(
                client_id="public-app",
                name="Public app",
                redirect_uris=(REDIRECT,),
                launch_uri="http://127.0.0.1:9/launch",
            ),
            RegisteredClient(
                client_id="secret-app",
                redirect_uris=(REDIRECT,),
                auth_method="client_secret_basic",
                client_secret="right",
            ),
            RegisteredClient(
                client_id="backend",
                auth_method="private_key_jwt",
                jwks=jwks_document([BACKEND_KEY]),
                grant_types=("client_credentials",),
                scope="system/Observation.rs",
            ),
        ),
    )
    with LocalTestEhr(settings) as server:
        yield server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def authorize_params(ehr: LocalTestEhr, pkce: PkcePair, **overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": "public-app",
        "redirect_uri": REDIRECT,
        "scope": "launch/patient patient/Patient.r patient/Observation.rs openid fhirUser "
        "offline_access",
        "state": secrets.token_urlsafe(16),
        "aud": ehr.fhir_base_url,
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text[:200]
    location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return dict(parse_qsl(urlsplit(location).query))


def get_code(ehr: LocalTestEhr, pkce: PkcePair, **overrides: str | None) -> str:
    url = f"{ehr.base_url}/auth/authorize?{urlencode(authorize_params(ehr, pkce, **overrides))}"
    back = EhrUserAgent(ehr.base_url).authorize(url, patient=PATIENT)
    assert isinstance(back, Redirect)
    return back.params["code"]


def token_request(http: httpx.Client, ehr: LocalTestEhr, **form: str) -> httpx.Response:
    return http.post(f"{ehr.base_url}/auth/token", data=form)


def exchange(
    http: httpx.Client, ehr: LocalTestEhr, code: str, verifier: str | None
) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    if verifier is not None:
        form["code_verifier"] = verifier
    return token_request(http, ehr, client_id="public-app", **form)


# -- discovery ---------------------------------------------------------------------------------


def test_smart_configuration(ehr: LocalTestEhr, http: httpx.Client) -> None:
    r = http.get(f"{ehr.fhir_base_url}/.well-known/smart-configuration", headers={"Accept": "*/*"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    doc = r.json()
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["token_endpoint"] == f"{ehr.base_url}/auth/token"
    assert doc["authorization_endpoint"] == f"{ehr.base_url}/auth/authorize"
    assert {"launch-ehr", "launch-standalone", "sso-openid-connect", "permission-v2"} <= set(
        doc["capabilities"]
    )
    assert set(doc["grant_types_supported"]) >= {"authorization_code", "client_credentials"}
    assert doc["issuer"] == f"{ehr.base_url}/auth"


def test_openid_configuration_and_public_jwks(ehr: LocalTestEhr, http: httpx.Client) -> None:
    doc = http.get(f"{ehr.base_url}/auth/.well-known/openid-configuration").json()
    assert doc["issuer"] == f"{ehr.base_url}/auth"
    keys = http.get(doc["jwks_uri"]).json()["keys"]
    assert keys and all("d" not in k and k["kid"] for k in keys)


def test_metadata_carries_the_legacy_oauth_uris(ehr: LocalTestEhr, http: httpx.Client) -> None:
    statement = http.get(f"{ehr.fhir_base_url}/metadata").json()
    extensions = statement["rest"][0]["security"]["extension"]
    uris = next(e for e in extensions if e["url"].endswith("/oauth-uris"))["extension"]
    assert {"url": "token", "valueUri": f"{ehr.base_url}/auth/token"} in uris


# -- authorize endpoint ------------------------------------------------------------------------


def test_unregistered_redirect_uri_is_refused_without_redirecting(
    ehr: LocalTestEhr, http: httpx.Client
) -> None:
    params = authorize_params(ehr, PkcePair.generate(), redirect_uri="https://evil.example.org/cb")
    r = http.get(f"{ehr.base_url}/auth/authorize", params=params)
    assert r.status_code == 400 and "Location" not in r.headers
    assert "refused" in r.text


def test_unknown_client_is_refused(ehr: LocalTestEhr, http: httpx.Client) -> None:
    params = authorize_params(ehr, PkcePair.generate(), client_id="nobody")
    r = http.get(f"{ehr.base_url}/auth/authorize", params=params)
    assert r.status_code == 400 and "Location" not in r.headers


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"aud": "https://other.example.org/fhir"}, "invalid_request"),
        ({"launch": "no-such-launch", "scope": "launch patient/Patient.r"}, "invalid_request"),
        ({"launch": "x", "scope": "patient/Patient.r"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
    ],
)
def test_bad_authorization_requests_are_redirected_with_an_error(
    ehr: LocalTestEhr, http: httpx.Client, overrides: dict[str, str | None], error: str
) -> None:
    params = authorize_params(ehr, PkcePair.generate(), **overrides)
    back = redirect_params(http.get(f"{ehr.base_url}/auth/authorize", params=params))
    assert back["error"] == error
    assert back["state"] == params["state"]


def test_consent_cannot_be_skipped_or_replayed(ehr: LocalTestEhr, http: httpx.Client) -> None:
    params = authorize_params(ehr, PkcePair.generate())
    forged = [*params.items(), ("ehr_patient", PATIENT), ("ehr_decision", "approve")]
    r = http.post(f"{ehr.base_url}/auth/authorize", data=dict(forged))
    assert r.status_code == 400 and "Location" not in r.headers

    picker = http.get(f"{ehr.base_url}/auth/authorize", params={**params, "ehr_patient": PATIENT})
    form = parse_forms(picker.text)[0]
    data = [*form.fields, *((n, v) for n, v, _ in form.checkboxes), ("ehr_decision", "approve")]
    first = http.post(
        f"{ehr.base_url}/auth/authorize",
        content=urlencode(data),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert "code" in redirect_params(first)
    again = http.post(
        f"{ehr.base_url}/auth/authorize",
        content=urlencode(data),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert again.status_code == 400


def test_picking_a_patient_that_does_not_exist_is_refused(
    ehr: LocalTestEhr, http: httpx.Client
) -> None:
    params = {**authorize_params(ehr, PkcePair.generate()), "ehr_patient": "no-such-patient"}
    r = http.get(f"{ehr.base_url}/auth/authorize", params=params)
    assert r.status_code == 400


def test_deny_redirects_access_denied_with_state(ehr: LocalTestEhr) -> None:
    params = authorize_params(ehr, PkcePair.generate())
    url = f"{ehr.base_url}/auth/authorize?{urlencode(params)}"
    back = EhrUserAgent(ehr.base_url).authorize(url, approve=False, patient=PATIENT)
    assert back.params["error"] == "access_denied"
    assert back.params["state"] == params["state"]
    assert "code" not in back.params


# -- token endpoint ----------------------------------------------------------------------------


def test_code_exchange_and_its_refusals(ehr: LocalTestEhr, http: httpx.Client) -> None:
    pkce = PkcePair.generate()
    code = get_code(ehr, pkce)
    missing = exchange(http, ehr, code, None)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    wrong = exchange(http, ehr, code, PkcePair.generate().verifier)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"

    pkce = PkcePair.generate()
    code = get_code(ehr, pkce)
    ok = exchange(http, ehr, code, pkce.verifier)
    assert ok.status_code == 200
    assert ok.headers["Cache-Control"] == "no-store" and ok.headers["Pragma"] == "no-cache"
    body = ok.json()
    assert body["patient"] == PATIENT and body["token_type"] == "Bearer"
    assert set(body["scope"].split()) >= {"patient/Patient.r", "openid", "offline_access"}
    assert body["refresh_token"] and body["id_token"]
    replay = exchange(http, ehr, code, pkce.verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"


def test_redirect_uri_must_match_at_the_token_endpoint(
    ehr: LocalTestEhr, http: httpx.Client
) -> None:
    pkce = PkcePair.generate()
    code = get_code(ehr, pkce)
    r = token_request(
        http,
        ehr,
        grant_type="authorization_code",
        code=code,
        client_id="public-app",
        redirect_uri="http://127.0.0.1:9/other",
        code_verifier=pkce.verifier,
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_no_refresh_token_without_offline_or_online_access(
    ehr: LocalTestEhr, http: httpx.Client
) -> None:
    pkce = PkcePair.generate()
    code = get_code(ehr, pkce, scope="launch/patient patient/Patient.r")
    body = exchange(http, ehr, code, pkce.verifier).json()
    assert "refresh_token" not in body and "id_token" not in body


def test_client_secret_basic(ehr: LocalTestEhr, http: httpx.Client) -> None:
    def basic(secret: str) -> dict[str, str]:
        raw = base64.b64encode(f"secret-app:{secret}".encode()).decode()
        return {"Authorization": f"Basic {raw}"}

    pkce = PkcePair.generate()
    code = get_code(ehr, pkce, client_id="secret-app")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": pkce.verifier,
    }
    bad = http.post(f"{ehr.base_url}/auth/token", data=form, headers=basic("wrong"))
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    good = http.post(f"{ehr.base_url}/auth/token", data=form, headers=basic("right"))
    assert good.status_code == 200


def backend_form(assertion: str, scope: str = "system/Observation.rs") -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion,
    }


def test_backend_services_token_and_jti_replay(ehr: LocalTestEhr, http: httpx.Client) -> None:
    token_url = f"{ehr.base_url}/auth/token"
    assertion = AsymmetricClient("backend", BACKEND_KEY).client_assertion(token_url)
    first = http.post(token_url, data=backend_form(assertion))
    assert first.status_code == 200, first.text
    assert first.json()["expires_in"] <= 300 and "refresh_token" not in first.json()
    replay = http.post(token_url, data=backend_form(assertion))
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_client"


def test_backend_scope_beyond_registration_is_refused(
    ehr: LocalTestEhr, http: httpx.Client
) -> None:
    token_url = f"{ehr.base_url}/auth/token"
    assertion = AsymmetricClient("backend", BACKEND_KEY).client_assertion(token_url)
    r = http.post(token_url, data=backend_form(assertion, "system/Observation.rs system/Patient.d"))
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"


def _signed(claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    head = {"alg": "RS384", "kid": BACKEND_KEY.kid, "typ": "JWT", **(header or {})}
    return jwt.encode(head, claims, BACKEND_KEY.private_key, algorithms=["RS384"])


@pytest.mark.parametrize(
    "case",
    [
        "wrong_aud",
        "exp_too_far",
        "expired",
        "unknown_kid",
        "jku_unregistered",
        "other_key",
        "hs256",
    ],
)
def test_bad_client_assertions_are_refused(
    ehr: LocalTestEhr, http: httpx.Client, case: str
) -> None:
    token_url = f"{ehr.base_url}/auth/token"
    now = int(time.time())
    claims = {
        "iss": "backend",
        "sub": "backend",
        "aud": token_url,
        "exp": now + 120,
        "jti": secrets.token_urlsafe(16),
    }
    if case == "wrong_aud":
        assertion = _signed({**claims, "aud": "https://elsewhere/token"})
    elif case == "exp_too_far":
        assertion = _signed({**claims, "exp": now + 3600})
    elif case == "expired":
        assertion = _signed({**claims, "exp": now - 600})
    elif case == "unknown_kid":
        assertion = _signed(claims, {"kid": "nope"})
    elif case == "jku_unregistered":
        assertion = _signed(claims, {"jku": "https://evil.example.org/jwks"})
    elif case == "other_key":
        other = SigningKey.generate("RS384")
        assertion = jwt.encode(
            {"alg": "RS384", "kid": BACKEND_KEY.kid},
            claims,
            other.private_key,
            algorithms=["RS384"],
        )
    else:
        secret = OctKey.generate_key(256)
        assertion = jwt.encode({"alg": "HS256", "kid": BACKEND_KEY.kid}, claims, secret)
    r = http.post(token_url, data=backend_form(assertion))
    assert r.status_code in (400, 401) and r.json()["error"] == "invalid_client"


# -- FHIR proxy --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def patient_token(ehr: LocalTestEhr) -> str:
    pkce = PkcePair.generate()
    code = get_code(ehr, pkce)
    with httpx.Client(timeout=30) as http:
        return str(exchange(http, ehr, code, pkce.verifier).json()["access_token"])


def test_proxy_needs_a_bearer_token(ehr: LocalTestEhr, http: httpx.Client) -> None:
    r = http.get(f"{ehr.fhir_base_url}/Patient/{PATIENT}")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert r.json()["resourceType"] == "OperationOutcome"
    r = http.get(
        f"{ehr.fhir_base_url}/Patient/{PATIENT}", headers={"Authorization": "Bearer not-a-token"}
    )
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["WWW-Authenticate"]


def test_patient_scope_is_confined_to_the_patient(
    ehr: LocalTestEhr, http: httpx.Client, patient_token: str
) -> None:
    auth = {"Authorization": f"Bearer {patient_token}"}
    assert http.get(f"{ehr.fhir_base_url}/Patient/{PATIENT}", headers=auth).status_code == 200
    assert http.get(f"{ehr.fhir_base_url}/Patient/{OTHER_PATIENT}", headers=auth).status_code == 403
    ok = http.get(f"{ehr.fhir_base_url}/Observation", params={"patient": PATIENT}, headers=auth)
    assert ok.status_code == 200
    unbounded = http.get(f"{ehr.fhir_base_url}/Observation", headers=auth)
    assert unbounded.status_code == 403
    other = http.get(
        f"{ehr.fhir_base_url}/Observation",
        params={"subject": f"Patient/{OTHER_PATIENT}"},
        headers=auth,
    )
    assert other.status_code == 403


def test_write_without_write_scope_is_forbidden(
    ehr: LocalTestEhr, http: httpx.Client, patient_token: str
) -> None:
    report = {
        "resourceType": "DiagnosticReport",
        "status": "preliminary",
        "code": {"text": "x"},
        "subject": {"reference": f"Patient/{PATIENT}"},
    }
    r = http.post(
        f"{ehr.fhir_base_url}/DiagnosticReport",
        json=report,
        headers={"Authorization": f"Bearer {patient_token}"},
    )
    assert r.status_code == 403 and 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]


# -- EHR pages ---------------------------------------------------------------------------------


def test_home_page_lists_patients_with_launch_buttons(
    ehr: LocalTestEhr, http: httpx.Client
) -> None:
    page = http.get(ehr.base_url + "/")
    assert page.status_code == 200
    assert f"Patient/{PATIENT}" in page.text and "Public app" in page.text


def test_launch_endpoint(ehr: LocalTestEhr, http: httpx.Client) -> None:
    r = http.get(ehr.launch_url("public-app", PATIENT))
    assert r.status_code == 302
    params = dict(parse_qsl(urlsplit(r.headers["Location"]).query))
    assert params["iss"] == ehr.fhir_base_url and params["launch"]
    assert http.get(ehr.launch_url("nobody", PATIENT)).status_code == 400
    assert http.get(ehr.launch_url("public-app", "no-such-patient")).status_code == 400
    # secret-app registered no launch URL
    assert http.get(ehr.launch_url("secret-app", PATIENT)).status_code == 400


def test_a_launch_passes_the_cds_app_context_to_the_token_response(
    ehr: LocalTestEhr, http: httpx.Client
) -> None:
    """CDS Hooks 2.0: a card link's appContext comes back with the token, as sent, and again
    on refresh; a launch without it has none."""
    app_context = '{"patient":"Patient/test-ehr-p1","screening":"abc"}'
    for sent in (app_context, None):
        extra = {"app_context": sent} if sent else {}
        r = http.get(ehr.launch_url("public-app", PATIENT, **extra))
        launch = dict(parse_qsl(urlsplit(r.headers["Location"]).query))["launch"]
        pkce = PkcePair.generate()
        code = get_code(ehr, pkce, scope="launch patient/Patient.r offline_access", launch=launch)
        body = exchange(http, ehr, code, pkce.verifier).json()
        assert body["patient"] == PATIENT
        assert body.get("appContext") == sent
        refreshed = token_request(
            http,
            ehr,
            client_id="public-app",
            grant_type="refresh_token",
            refresh_token=body["refresh_token"],
        ).json()
        assert refreshed.get("appContext") == sent
    too_long = http.get(ehr.launch_url("public-app", PATIENT, app_context="x" * 40000))
    assert too_long.status_code == 400
