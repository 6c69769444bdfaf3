"""Backend Services: client_credentials with a private_key_jwt assertion, token caching."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from smart_launch.backend_services import BackendAuthError, BackendServicesClient
from smart_launch.client_auth import CLIENT_ASSERTION_TYPE, AsymmetricClient
from smart_launch.errors import SmartDiscoveryError
from smart_launch.keys import SigningKey, jwks_document

KEY = SigningKey.generate("ES384")


def backend(fake_server: Any, **kwargs: Any) -> BackendServicesClient:
    return BackendServicesClient(
        fake_server.iss,
        AsymmetricClient("backend-1", KEY, clock=fake_server.clock),
        ("system/DiagnosticReport.cu", "system/Observation.rs"),
        http=fake_server.http(),
        clock=fake_server.clock,
        **kwargs,
    )


def backend_token(request: httpx.Request) -> tuple[int, dict[str, Any]]:
    return 200, {
        "access_token": "sys-token",
        "token_type": "bearer",
        "expires_in": 300,
        "scope": "system/DiagnosticReport.cu system/Observation.rs",
    }


def test_token_request_is_client_credentials_with_a_verifiable_assertion(
    fake_server: Any,
) -> None:
    fake_server.on_token = backend_token
    client = backend(fake_server)
    assert client.access_token() == "sys-token"
    form = fake_server.form_of(fake_server.token_requests[0])
    assert form["grant_type"] == "client_credentials"
    assert form["scope"] == "system/DiagnosticReport.cu system/Observation.rs"
    assert form["client_assertion_type"] == CLIENT_ASSERTION_TYPE
    public = KeySet.import_key_set(jwks_document([KEY]))  # type: ignore[arg-type]
    claims = jwt.decode(form["client_assertion"], public, algorithms=["ES384"]).claims
    assert claims["aud"] == fake_server.token_url and claims["iss"] == "backend-1"
    assert client.granted().can_write("DiagnosticReport")


def test_token_is_cached_until_the_margin(fake_server: Any) -> None:
    fake_server.on_token = backend_token
    client = backend(fake_server, refresh_margin_s=30)
    client.access_token()
    fake_server.clock.advance(269)
    client.access_token()
    assert len(fake_server.token_requests) == 1
    fake_server.clock.advance(2)
    client.access_token()
    assert len(fake_server.token_requests) == 2
    client.invalidate()
    client.access_token()
    assert len(fake_server.token_requests) == 3


def test_refused_client_is_a_typed_error(fake_server: Any) -> None:
    fake_server.on_token = lambda request: (401, {"error": "invalid_client"})
    with pytest.raises(BackendAuthError) as info:
        backend(fake_server).access_token()
    assert info.value.error == "invalid_client"
    assert "administrator" in info.value.user_message


def test_server_without_client_credentials_is_refused(fake_server: Any) -> None:
    fake_server.config["grant_types_supported"] = ["authorization_code"]
    with pytest.raises(SmartDiscoveryError, match="client_credentials"):
        backend(fake_server).access_token()
    assert fake_server.token_requests == []


def test_server_without_private_key_jwt_is_refused(fake_server: Any) -> None:
    fake_server.config["token_endpoint_auth_methods_supported"] = ["client_secret_basic"]
    with pytest.raises(SmartDiscoveryError, match="private_key_jwt"):
        backend(fake_server).access_token()
