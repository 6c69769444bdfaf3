"""End-to-end SMART flows over real HTTP, without a browser: the smart_launch client against
the test EHR (authlib) in front of the real FHIR server. The scripted EHR user clicks the
launch button, picks a patient and answers the consent form."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from werkzeug.serving import make_server

from plugin.local_servers.test_ehr import RegisteredClient
from plugin.local_servers.test_ehr.user_agent import EhrUserAgent, Redirect
from smart_launch import (
    AsymmetricClient,
    AuthorizationDenied,
    BackendServicesClient,
    PublicClient,
    RefreshFailed,
    SigningKey,
    SmartAppConfig,
    SmartAuthError,
    SmartLaunchClient,
    SmartSession,
    SymmetricClient,
    jwks_document,
)
from smart_launch.discovery import discover, parse_capability_statement

pytestmark = pytest.mark.integration

REDIRECT = "http://127.0.0.1:9/app/callback"  # only read from Location headers, never contacted
LAUNCH = "http://127.0.0.1:9/app/launch"
APP_SCOPES = (
    "patient/Patient.r",
    "patient/Observation.rs",
    "user/DiagnosticReport.cu",
    "openid",
    "fhirUser",
    "offline_access",
)


def public_app(client_id: str = "deepdr") -> RegisteredClient:
    return RegisteredClient(
        client_id=client_id, name="DeepDR", redirect_uris=(REDIRECT,), launch_uri=LAUNCH
    )


def smart_client(client: Any = None, **app: Any) -> SmartLaunchClient:
    return SmartLaunchClient(
        SmartAppConfig(
            client=client or PublicClient("deepdr"),
            redirect_uri=REDIRECT,
            scopes=app.pop("scopes", APP_SCOPES),
            **app,
        )
    )


def ehr_launch(
    ehr: Any, client: SmartLaunchClient, patient: str, **consent: Any
) -> tuple[SmartSession, Redirect]:
    """Click the EHR's launch button, run the app's launch, answer consent."""
    agent = EhrUserAgent(ehr.base_url)
    launched = agent.open(ehr.launch_url(client.app.client.client_id, patient))
    assert isinstance(launched, Redirect) and launched.url.startswith(LAUNCH + "?")
    start = client.begin_ehr_launch(launched.params["iss"], launched.params["launch"])
    back = agent.authorize(start.authorization.url, **consent)
    assert back.url.startswith(REDIRECT + "?")
    return start.session, back


def bearer(session: SmartSession) -> dict[str, str]:
    assert session.tokens is not None
    return session.tokens.authorization_header()


def diagnostic_report(patient: str) -> dict[str, Any]:
    return {
        "resourceType": "DiagnosticReport",
        "status": "preliminary",
        "code": {"text": "Diabetic retinopathy screening"},
        "subject": {"reference": f"Patient/{patient}"},
    }


def test_ehr_launch_end_to_end(start_ehr: Callable[..., Any], fhir_base_url: str) -> None:
    ehr = start_ehr(public_app())
    client = smart_client()
    pending, back = ehr_launch(ehr, client, "smart-flow-p1")
    session = client.complete_authorization(pending, back.params)

    tokens = session.tokens
    assert tokens is not None
    assert session.iss == ehr.fhir_base_url
    assert tokens.patient == "smart-flow-p1"
    assert tokens.fhir_user == f"{ehr.fhir_base_url}/Practitioner/ehr-clinician"
    assert session.fhir_user_reference == "Practitioner/ehr-clinician"
    # The EHR user exists on the FHIR server (seeded), as sign-off Provenance will cite it.
    assert httpx.get(f"{fhir_base_url}/Practitioner/ehr-clinician").status_code == 200
    assert tokens.need_patient_banner is True
    assert tokens.smart_style_url == f"{ehr.base_url}/ehr/smart-style.json"
    assert tokens.refresh_token  # offline_access was granted
    assert tokens.granted.can_write("DiagnosticReport")

    r = httpx.get(f"{session.iss}/Patient/smart-flow-p1", headers=bearer(session))
    assert r.status_code == 200 and r.json()["name"][0]["given"] == ["Ada"]
    r = httpx.get(
        f"{session.iss}/Observation", params={"patient": "smart-flow-p1"}, headers=bearer(session)
    )
    assert r.status_code == 200 and r.json()["resourceType"] == "Bundle"
    # Links in responses point at the EHR's FHIR base, not the server behind it.
    assert all(link["url"].startswith(session.iss) for link in r.json()["link"])


def test_standalone_launch_picks_a_patient(start_ehr: Callable[..., Any]) -> None:
    ehr = start_ehr(public_app())
    client = smart_client()
    start = client.begin_standalone_launch(ehr.fhir_base_url)
    back = EhrUserAgent(ehr.base_url).authorize(start.authorization.url, patient="smart-flow-p2")
    session = client.complete_authorization(start.session, back.params)
    assert session.tokens is not None and session.tokens.patient == "smart-flow-p2"
    assert session.launch_kind == "standalone"
    r = httpx.get(f"{session.iss}/Patient/smart-flow-p2", headers=bearer(session))
    assert r.status_code == 200
    # The token is confined to the chosen patient.
    r = httpx.get(f"{session.iss}/Patient/smart-flow-p1", headers=bearer(session))
    assert r.status_code == 403


def test_confidential_symmetric_client(start_ehr: Callable[..., Any]) -> None:
    registered = public_app().model_copy(
        update={"auth_method": "client_secret_basic", "client_secret": "s3cret"}
    )
    ehr = start_ehr(registered)
    client = smart_client(SymmetricClient("deepdr", "s3cret"))
    pending, back = ehr_launch(ehr, client, "smart-flow-p1")
    assert client.complete_authorization(pending, back.params).tokens is not None

    wrong = smart_client(SymmetricClient("deepdr", "wrong"))
    pending, back = ehr_launch(ehr, wrong, "smart-flow-p1")
    with pytest.raises(SmartAuthError) as info:
        wrong.complete_authorization(pending, back.params)
    assert info.value.error == "invalid_client"
    assert "credentials" in info.value.user_message


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, dict[str, Any]]]:
    """Serves our JWK Set at a URL, as the plugin will (SMART prefers a JWKS URL)."""
    document: dict[str, Any] = {"keys": []}

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = json.dumps(document).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json", document
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
def test_confidential_asymmetric_client_with_jwks_url(
    start_ehr: Callable[..., Any], jwks_server: tuple[str, dict[str, Any]], alg: str
) -> None:
    jwks_url, document = jwks_server
    key = SigningKey.generate(alg)  # type: ignore[arg-type]
    document.update(jwks_document([key]))
    registered = public_app().model_copy(
        update={"auth_method": "private_key_jwt", "jwks_uri": jwks_url}
    )
    ehr = start_ehr(registered)
    client = smart_client(AsymmetricClient("deepdr", key, jku=jwks_url))
    pending, back = ehr_launch(ehr, client, "smart-flow-p1")
    session = client.complete_authorization(pending, back.params)
    assert session.tokens is not None and session.tokens.patient == "smart-flow-p1"


def test_backend_services_write_with_a_cached_token(
    start_ehr: Callable[..., Any], fhir_base_url: str
) -> None:
    key = SigningKey.generate("ES384")
    ehr = start_ehr(
        RegisteredClient(
            client_id="deepdr-backend",
            auth_method="private_key_jwt",
            jwks=jwks_document([key]),
            grant_types=("client_credentials",),
            scope="system/DiagnosticReport.cru system/Observation.rs",
        )
    )
    backend = BackendServicesClient(
        ehr.fhir_base_url,
        AsymmetricClient("deepdr-backend", key),
        ("system/DiagnosticReport.cu",),
    )
    token = backend.access_token()
    assert backend.access_token() == token  # cached
    r = httpx.post(
        f"{ehr.fhir_base_url}/DiagnosticReport",
        json=diagnostic_report("smart-flow-p1"),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"},
    )
    assert r.status_code == 201, r.text
    assert r.headers["Location"].startswith(ehr.fhir_base_url + "/DiagnosticReport/")
    created = r.json()["id"]
    stored = httpx.get(f"{fhir_base_url}/DiagnosticReport/{created}").json()
    assert stored["subject"]["reference"] == "Patient/smart-flow-p1"
    # Reading was not granted (only .cu asked for).
    r = httpx.get(
        f"{ehr.fhir_base_url}/DiagnosticReport/{created}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 403


def test_token_expiry_then_refresh_then_fhir_works_again(start_ehr: Callable[..., Any]) -> None:
    ehr = start_ehr(public_app(), access_token_lifetime_s=1)
    client = smart_client()
    pending, back = ehr_launch(ehr, client, "smart-flow-p1")
    session = client.complete_authorization(pending, back.params)
    url = f"{session.iss}/Patient/smart-flow-p1"
    assert httpx.get(url, headers=bearer(session)).status_code == 200
    time.sleep(1.2)  # let the one-second token lapse on the server
    expired = httpx.get(url, headers=bearer(session))
    assert expired.status_code == 401
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]
    fresh = client.ensure_fresh(session)
    assert fresh.tokens is not None and session.tokens is not None
    assert fresh.tokens.access_token != session.tokens.access_token
    assert fresh.tokens.patient == "smart-flow-p1"
    assert httpx.get(url, headers=bearer(fresh)).status_code == 200


def test_rotated_refresh_token_cannot_be_used_twice(start_ehr: Callable[..., Any]) -> None:
    ehr = start_ehr(public_app(), rotate_refresh_tokens=True)
    client = smart_client()
    pending, back = ehr_launch(ehr, client, "smart-flow-p1")
    session = client.complete_authorization(pending, back.params)
    client.refresh(session)  # rotates: the old refresh token is spent
    with pytest.raises(RefreshFailed) as info:
        client.refresh(session)
    assert "launch the app again" in info.value.user_message


def test_fewer_scopes_granted_degrade_gracefully(start_ehr: Callable[..., Any]) -> None:
    ehr = start_ehr(public_app())
    client = smart_client()
    pending, back = ehr_launch(
        ehr, client, "smart-flow-p1", untick=("user/DiagnosticReport.cu", "offline_access")
    )
    session = client.complete_authorization(pending, back.params)
    assert session.tokens is not None
    granted = session.tokens.granted
    assert granted.can_read("Observation") and not granted.can_write("DiagnosticReport")
    assert session.tokens.refresh_token is None
    assert set(session.missing_scopes()) == {"user/DiagnosticReport.cu", "offline_access"}
    r = httpx.post(
        f"{session.iss}/DiagnosticReport",
        json=diagnostic_report("smart-flow-p1"),
        headers={**bearer(session), "Content-Type": "application/fhir+json"},
    )
    assert r.status_code == 403
    assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]


def test_denied_consent_is_access_denied(start_ehr: Callable[..., Any]) -> None:
    ehr = start_ehr(public_app())
    client = smart_client()
    pending, back = ehr_launch(ehr, client, "smart-flow-p1", approve=False)
    assert back.params["error"] == "access_denied"
    with pytest.raises(AuthorizationDenied) as info:
        client.complete_authorization(pending, back.params)
    assert "approve" in info.value.user_message


def test_v1_only_ehr_gets_v1_scopes(start_ehr: Callable[..., Any]) -> None:
    ehr = start_ehr(
        public_app().model_copy(update={"scope": "launch openid fhirUser patient/*.read"}),
        scope_versions=("v1",),
    )
    client = smart_client(scopes=("patient/Patient.r", "patient/Observation.rs", "openid"))
    pending, back = ehr_launch(ehr, client, "smart-flow-p1")
    session = client.complete_authorization(pending, back.params)
    assert session.tokens is not None
    assert session.tokens.scope.split() == [
        "launch",
        "patient/Patient.read",
        "patient/Observation.read",
        "openid",
    ]
    assert session.tokens.granted.can_read("Patient")
    assert httpx.get(f"{session.iss}/Patient/smart-flow-p1", headers=bearer(session)).is_success


def test_legacy_capability_statement_names_the_same_endpoints(
    start_ehr: Callable[..., Any],
) -> None:
    ehr = start_ehr(public_app())
    with httpx.Client() as http:
        well_known = discover(ehr.fhir_base_url, http)
        statement = http.get(f"{ehr.fhir_base_url}/metadata").json()
    legacy = parse_capability_statement(statement, ehr.fhir_base_url)
    assert legacy.authorization_endpoint == well_known.authorization_endpoint
    assert legacy.token_endpoint == well_known.token_endpoint
    assert "permission-v2" in legacy.capabilities
