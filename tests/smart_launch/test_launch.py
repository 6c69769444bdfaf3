"""The launch flow against a fake authorization server: authorize URL, state, PKCE, callback
errors, code exchange, refresh timing and failures."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from smart_launch.client_auth import PublicClient, SymmetricClient
from smart_launch.errors import (
    AuthorizationDenied,
    IdTokenInvalid,
    InsecureEndpoint,
    IssuerMismatch,
    IssuerNotAllowed,
    PkceError,
    RefreshFailed,
    SmartAuthError,
    StateMismatch,
    TokenExpired,
)
from smart_launch.launch import SmartAppConfig, SmartLaunchClient
from smart_launch.pkce import s256_challenge
from smart_launch.session import SmartSession

SCOPES = ("patient/Patient.r", "patient/Observation.rs", "user/DiagnosticReport.cu")


def make_client(fake_server: Any, **app: Any) -> SmartLaunchClient:
    config = SmartAppConfig(
        client=app.pop("client", PublicClient(fake_server.client_id)),
        redirect_uri=fake_server.redirect_uri,
        scopes=app.pop("scopes", (*SCOPES, "openid", "fhirUser", "offline_access")),
        **app,
    )
    return SmartLaunchClient(config, http=fake_server.http(), clock=fake_server.clock)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def callback(session: SmartSession, **params: str) -> dict[str, str]:
    assert session.pending is not None
    return {"code": "the-code", "state": session.pending.state, **params}


def test_ehr_launch_authorize_url_has_every_smart_parameter(fake_server: Any) -> None:
    start = make_client(fake_server).begin_ehr_launch(fake_server.iss, "launch-123")
    url = start.authorization.url
    assert url.startswith(fake_server.authorize_url + "?")
    params = query(url)
    pending = start.session.pending
    assert pending is not None
    assert params == {
        "response_type": "code",
        "client_id": fake_server.client_id,
        "redirect_uri": fake_server.redirect_uri,
        "scope": "launch patient/Patient.r patient/Observation.rs user/DiagnosticReport.cu "
        "openid fhirUser offline_access",
        "state": pending.state,
        "aud": fake_server.iss,
        "code_challenge": s256_challenge(pending.code_verifier),
        "code_challenge_method": "S256",
        "launch": "launch-123",
    }
    assert len(pending.state) >= 32  # >= 122 bits of entropy
    assert start.session.launch_kind == "ehr"


def test_standalone_launch_asks_for_patient_context(fake_server: Any) -> None:
    start = make_client(fake_server).begin_standalone_launch(fake_server.iss)
    params = query(start.authorization.url)
    assert "launch" not in params
    assert params["scope"].split()[0] == "launch/patient"
    assert start.session.launch_kind == "standalone"


def test_each_launch_gets_its_own_state_and_verifier(fake_server: Any) -> None:
    client = make_client(fake_server)
    a = client.begin_standalone_launch(fake_server.iss).session.pending
    b = client.begin_standalone_launch(fake_server.iss).session.pending
    assert a is not None and b is not None
    assert a.state != b.state and a.code_verifier != b.code_verifier


def test_v1_only_server_gets_v1_scopes(fake_server: Any) -> None:
    fake_server.config["capabilities"] = ["launch-ehr", "permission-v1"]
    start = make_client(fake_server).begin_ehr_launch(fake_server.iss, "l")
    assert query(start.authorization.url)["scope"].split()[1:4] == [
        "patient/Patient.read",
        "patient/Observation.read",
        "user/DiagnosticReport.write",
    ]


def test_issuer_allow_list(fake_server: Any) -> None:
    client = make_client(fake_server, allowed_issuers=("https://other.example.org/fhir",))
    with pytest.raises(IssuerNotAllowed) as info:
        client.begin_ehr_launch(fake_server.iss, "l")
    assert "registered" in info.value.user_message
    assert fake_server.requests == []  # refused before any request to the named server
    allowed = make_client(fake_server, allowed_issuers=(fake_server.iss + "/",))
    allowed.begin_ehr_launch(fake_server.iss, "l")


def test_insecure_iss_and_empty_launch_are_refused(fake_server: Any) -> None:
    client = make_client(fake_server)
    with pytest.raises(InsecureEndpoint):
        client.begin_ehr_launch("http://ehr.example.org/fhir", "l")
    with pytest.raises(SmartAuthError):
        client.begin_ehr_launch(fake_server.iss, "")


def test_code_exchange_sends_verifier_and_parses_tokens(fake_server: Any) -> None:
    client = make_client(fake_server)
    start = client.begin_ehr_launch(fake_server.iss, "l")
    fake_server.token_answers.append((200, fake_server.token_body(id_token=fake_server.id_token())))
    session = client.complete_authorization(start.session, callback(start.session))
    form = fake_server.form_of(fake_server.token_requests[0])
    pending = start.session.pending
    assert pending is not None
    assert form == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": fake_server.redirect_uri,
        "code_verifier": pending.code_verifier,
        "client_id": fake_server.client_id,
    }
    assert fake_server.token_requests[0].headers["Content-Type"] == (
        "application/x-www-form-urlencoded"
    )
    assert session.pending is None
    tokens = session.tokens
    assert tokens is not None
    assert tokens.patient == "p1" and tokens.need_patient_banner is True
    assert tokens.fhir_user == f"{fake_server.iss}/Practitioner/clin-1"
    assert tokens.expires_at == fake_server.clock.now + 3600


def test_confidential_symmetric_client_uses_basic_auth(fake_server: Any) -> None:
    client = make_client(fake_server, client=SymmetricClient(fake_server.client_id, "pw"))
    start = client.begin_ehr_launch(fake_server.iss, "l")
    client.complete_authorization(start.session, callback(start.session))
    request = fake_server.token_requests[0]
    assert request.headers["Authorization"].startswith("Basic ")
    assert "client_id" not in fake_server.form_of(request)


@pytest.mark.parametrize("state", [None, "", "forged-state"])
def test_missing_or_wrong_state_is_rejected(fake_server: Any, state: str | None) -> None:
    client = make_client(fake_server)
    start = client.begin_ehr_launch(fake_server.iss, "l")
    params = callback(start.session)
    if state is None:
        del params["state"]
    else:
        params["state"] = state
    with pytest.raises(StateMismatch) as info:
        client.complete_authorization(start.session, params)
    assert "launch the app again" in info.value.user_message
    assert fake_server.token_requests == []  # the code is never exchanged


def test_replayed_callback_is_rejected(fake_server: Any) -> None:
    client = make_client(fake_server)
    start = client.begin_ehr_launch(fake_server.iss, "l")
    done = client.complete_authorization(start.session, callback(start.session))
    with pytest.raises(StateMismatch, match="replayed"):
        client.complete_authorization(done, callback(start.session))
    assert len(fake_server.token_requests) == 1


def test_state_of_another_session_is_rejected(fake_server: Any) -> None:
    client = make_client(fake_server)
    mine = client.begin_ehr_launch(fake_server.iss, "l")
    theirs = client.begin_ehr_launch(fake_server.iss, "l")
    with pytest.raises(StateMismatch):
        client.complete_authorization(mine.session, callback(theirs.session))


def test_stale_authorization_is_rejected(fake_server: Any) -> None:
    client = make_client(fake_server, pending_ttl_s=600)
    start = client.begin_ehr_launch(fake_server.iss, "l")
    fake_server.clock.advance(601)
    with pytest.raises(StateMismatch, match="too old"):
        client.complete_authorization(start.session, callback(start.session))


def test_missing_code_verifier_is_rejected_before_the_token_request(fake_server: Any) -> None:
    client = make_client(fake_server)
    start = client.begin_ehr_launch(fake_server.iss, "l")
    assert start.session.pending is not None
    broken = start.session.model_copy(
        update={"pending": start.session.pending.model_copy(update={"code_verifier": ""})}
    )
    with pytest.raises(PkceError):
        client.complete_authorization(broken, callback(broken))
    assert fake_server.token_requests == []


def test_access_denied_is_a_readable_typed_error(fake_server: Any) -> None:
    client = make_client(fake_server)
    start = client.begin_ehr_launch(fake_server.iss, "l")
    params = {"error": "access_denied", "state": callback(start.session)["state"]}
    with pytest.raises(AuthorizationDenied) as info:
        client.complete_authorization(start.session, params)
    assert info.value.error == "access_denied"
    assert "approve" in info.value.user_message


def test_other_authorize_errors_are_typed(fake_server: Any) -> None:
    client = make_client(fake_server)
    start = client.begin_ehr_launch(fake_server.iss, "l")
    params = {"error": "invalid_scope", "state": callback(start.session)["state"]}
    with pytest.raises(SmartAuthError) as info:
        client.complete_authorization(start.session, params)
    assert info.value.error == "invalid_scope" and "permissions" in info.value.user_message


def test_error_with_a_forged_state_is_a_state_mismatch(fake_server: Any) -> None:
    client = make_client(fake_server)
    start = client.begin_ehr_launch(fake_server.iss, "l")
    with pytest.raises(StateMismatch):
        client.complete_authorization(start.session, {"error": "access_denied", "state": "x"})


def test_response_iss_must_be_the_issuer(fake_server: Any) -> None:
    client = make_client(fake_server)
    start = client.begin_ehr_launch(fake_server.iss, "l")
    with pytest.raises(IssuerMismatch):
        client.complete_authorization(
            start.session, callback(start.session, iss="https://evil.example.org")
        )
    good = client.begin_ehr_launch(fake_server.iss, "l")
    client.complete_authorization(good.session, callback(good.session, iss=fake_server.issuer))


def test_invalid_id_token_fails_the_launch(fake_server: Any) -> None:
    client = make_client(fake_server)
    start = client.begin_ehr_launch(fake_server.iss, "l")
    bad = fake_server.id_token(aud="someone-else")
    fake_server.token_answers.append((200, fake_server.token_body(id_token=bad)))
    with pytest.raises(IdTokenInvalid):
        client.complete_authorization(start.session, callback(start.session))


def test_code_rejected_by_the_server(fake_server: Any) -> None:
    client = make_client(fake_server)
    start = client.begin_ehr_launch(fake_server.iss, "l")
    fake_server.token_answers.append((400, {"error": "invalid_grant"}))
    with pytest.raises(SmartAuthError) as info:
        client.complete_authorization(start.session, callback(start.session))
    assert info.value.error == "invalid_grant"


def test_fewer_scopes_granted_are_reported(fake_server: Any) -> None:
    client = make_client(fake_server)
    start = client.begin_ehr_launch(fake_server.iss, "l")
    fake_server.token_answers.append(
        (200, fake_server.token_body(scope="launch patient/Patient.r patient/Observation.rs"))
    )
    session = client.complete_authorization(start.session, callback(start.session))
    assert session.tokens is not None
    assert not session.tokens.granted.can_write("DiagnosticReport")
    assert session.tokens.granted.can_read("Observation")
    assert "user/DiagnosticReport.cu" in session.missing_scopes()


def authorized(fake_server: Any, client: SmartLaunchClient, **token: Any) -> SmartSession:
    start = client.begin_ehr_launch(fake_server.iss, "l")
    fake_server.token_answers.append((200, fake_server.token_body(**token)))
    return client.complete_authorization(start.session, callback(start.session))


def test_ensure_fresh_refreshes_only_inside_the_margin(fake_server: Any) -> None:
    client = make_client(fake_server, refresh_margin_s=60)
    session = authorized(fake_server, client, expires_in=600)
    fake_server.clock.advance(539)
    assert client.ensure_fresh(session) is session
    assert len(fake_server.token_requests) == 1
    fake_server.clock.advance(2)  # 59 s left: inside the margin
    fake_server.token_answers.append(
        (200, {"access_token": "new", "token_type": "Bearer", "expires_in": 600})
    )
    fresh = client.ensure_fresh(session)
    assert fresh.tokens is not None and fresh.tokens.access_token == "new"
    form = fake_server.form_of(fake_server.token_requests[1])
    assert form == {
        "grant_type": "refresh_token",
        "refresh_token": "rt-0",
        "client_id": fake_server.client_id,
    }
    # Kept from the first response: the refresh token (not rotated) and the context.
    assert fresh.tokens.refresh_token == "rt-0" and fresh.tokens.patient == "p1"


def test_rotated_refresh_token_replaces_the_old_one(fake_server: Any) -> None:
    client = make_client(fake_server)
    session = authorized(fake_server, client)
    fake_server.token_answers.append(
        (200, {"access_token": "a2", "token_type": "Bearer", "refresh_token": "rt-new"})
    )
    assert client.refresh(session).tokens.refresh_token == "rt-new"  # type: ignore[union-attr]


def test_refresh_failure_asks_for_a_relaunch(fake_server: Any) -> None:
    client = make_client(fake_server)
    session = authorized(fake_server, client)
    fake_server.token_answers.append((400, {"error": "invalid_grant"}))
    with pytest.raises(RefreshFailed) as info:
        client.refresh(session)
    assert "launch the app again" in info.value.user_message


def test_expired_without_refresh_token_is_token_expired(fake_server: Any) -> None:
    client = make_client(fake_server)
    session = authorized(fake_server, client, refresh_token=None, expires_in=100)
    fake_server.clock.advance(50)  # inside the margin but still valid: used as is
    assert client.ensure_fresh(session) is session
    fake_server.clock.advance(50)
    with pytest.raises(TokenExpired) as info:
        client.ensure_fresh(session)
    assert "expired" in info.value.user_message


def test_unauthorized_session_cannot_be_refreshed(fake_server: Any) -> None:
    client = make_client(fake_server)
    start = client.begin_ehr_launch(fake_server.iss, "l")
    with pytest.raises(SmartAuthError):
        client.ensure_fresh(start.session)


def test_discovery_is_cached(fake_server: Any) -> None:
    client = make_client(fake_server, discovery_ttl_s=300)
    client.begin_ehr_launch(fake_server.iss, "a")
    client.begin_ehr_launch(fake_server.iss, "b")
    assert len(fake_server.requests) == 1
    fake_server.clock.advance(301)
    client.begin_ehr_launch(fake_server.iss, "c")
    assert len(fake_server.requests) == 2


def test_redirect_uri_must_be_secure() -> None:
    with pytest.raises(InsecureEndpoint):
        SmartLaunchClient(
            SmartAppConfig(
                client=PublicClient("a"), redirect_uri="http://app.example.org/cb", scopes=()
            )
        )


def test_session_token_provider_refreshes_and_persists(fake_server: Any) -> None:
    from smart_launch.errors import SessionError
    from smart_launch.provider import SessionTokenProvider
    from smart_launch.session import InMemorySessionBackend, SessionCipher, SessionRepository

    client = make_client(fake_server, refresh_margin_s=60)
    session = authorized(fake_server, client, expires_in=600)
    repo = SessionRepository(
        InMemorySessionBackend(), SessionCipher([SessionCipher.generate_key()])
    )
    repo.save(session)
    provider = SessionTokenProvider(client, repo, session.session_id)
    assert provider() == "at-0"
    fake_server.clock.advance(550)
    fake_server.token_answers.append(
        (200, {"access_token": "renewed", "token_type": "Bearer", "expires_in": 600})
    )
    assert provider() == "renewed"
    stored = repo.load(session.session_id)
    assert stored is not None and stored.tokens is not None
    assert stored.tokens.access_token == "renewed"
    assert provider() == "renewed" and len(fake_server.token_requests) == 2
    with pytest.raises(SessionError):
        SessionTokenProvider(client, repo, "unknown")()
