"""Discovery: the well-known document, the legacy CapabilityStatement fallback, and refusals."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from smart_launch.discovery import (
    OAUTH_URIS_EXTENSION,
    discover,
    parse_capability_statement,
    parse_smart_configuration,
)
from smart_launch.errors import InsecureEndpoint, PkceNotSupported, SmartDiscoveryError


def capability_statement(authorize: str, token: str) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "rest": [
            {
                "mode": "server",
                "security": {
                    "extension": [
                        {
                            "url": OAUTH_URIS_EXTENSION,
                            "extension": [
                                {"url": "authorize", "valueUri": authorize},
                                {"url": "token", "valueUri": token},
                                {"url": "revoke", "valueUri": token + "/revoke"},
                            ],
                        }
                    ]
                },
            }
        ],
    }


def test_well_known_document_is_parsed_and_sent_accept_json(fake_server: Any) -> None:
    config = discover(fake_server.iss, fake_server.http())
    assert config.source == "well-known"
    assert config.token_endpoint == fake_server.token_url
    assert config.authorization_endpoint == fake_server.authorize_url
    assert config.supports_s256
    assert config.has_capability("launch-ehr")
    request = fake_server.requests[0]
    assert str(request.url) == f"{fake_server.iss}/.well-known/smart-configuration"
    assert request.headers["Accept"] == "application/json"


def test_trailing_slash_on_iss_is_ignored(fake_server: Any) -> None:
    discover(fake_server.iss + "/", fake_server.http())
    assert str(fake_server.requests[0].url) == f"{fake_server.iss}/.well-known/smart-configuration"


def test_relative_endpoints_are_resolved_against_the_fhir_base(fake_server: Any) -> None:
    fake_server.config["token_endpoint"] = "auth/token"
    fake_server.config["authorization_endpoint"] = "/oauth/authorize"
    config = discover(fake_server.iss, fake_server.http())
    assert config.token_endpoint == f"{fake_server.iss}/auth/token"
    assert config.authorization_endpoint == "https://ehr.example.org/oauth/authorize"


def test_unknown_members_are_kept(fake_server: Any) -> None:
    fake_server.config["associated_endpoints"] = [{"url": "https://x", "capabilities": []}]
    config = discover(fake_server.iss, fake_server.http())
    assert config.model_extra is not None
    assert config.model_extra["associated_endpoints"][0]["url"] == "https://x"


def test_falls_back_to_capability_statement_when_well_known_is_missing(fake_server: Any) -> None:
    fake_server.well_known_status = 404
    fake_server.metadata = capability_statement(
        "https://ehr.example.org/legacy/authorize", "https://ehr.example.org/legacy/token"
    )
    config = discover(fake_server.iss, fake_server.http())
    assert config.source == "capability-statement"
    assert config.authorization_endpoint == "https://ehr.example.org/legacy/authorize"
    assert config.token_endpoint == "https://ehr.example.org/legacy/token"
    assert config.revocation_endpoint == "https://ehr.example.org/legacy/token/revoke"
    assert fake_server.requests[-1].headers["Accept"] == "application/fhir+json"


def test_legacy_config_is_refused_for_launch_unless_opted_in(fake_server: Any) -> None:
    fake_server.well_known_status = 404
    fake_server.metadata = capability_statement(
        "https://ehr.example.org/a", "https://ehr.example.org/t"
    )
    config = discover(fake_server.iss, fake_server.http())
    with pytest.raises(PkceNotSupported):
        config.require_authorization_code()
    config.require_authorization_code(allow_unadvertised_legacy=True)


def test_no_configuration_anywhere_is_a_discovery_error(fake_server: Any) -> None:
    fake_server.well_known_status = 404
    with pytest.raises(SmartDiscoveryError, match="no SMART configuration"):
        discover(fake_server.iss, fake_server.http())


def test_metadata_without_oauth_uris_is_refused() -> None:
    with pytest.raises(SmartDiscoveryError, match="oauth-uris"):
        parse_capability_statement(
            {"resourceType": "CapabilityStatement", "rest": [{"mode": "server"}]},
            "https://ehr.example.org/fhir",
        )


def test_well_known_without_s256_is_refused_for_launch(fake_server: Any) -> None:
    fake_server.config["code_challenge_methods_supported"] = ["plain"]
    config = discover(fake_server.iss, fake_server.http())
    with pytest.raises(PkceNotSupported):
        config.require_authorization_code()
    # Even the legacy opt-in does not excuse a well-known document.
    with pytest.raises(PkceNotSupported):
        config.require_authorization_code(allow_unadvertised_legacy=True)


def test_missing_token_endpoint_is_invalid() -> None:
    with pytest.raises(SmartDiscoveryError, match="token_endpoint"):
        parse_smart_configuration({"capabilities": []}, "https://ehr.example.org/fhir")


def test_http_endpoints_are_refused_except_on_loopback() -> None:
    doc = {"token_endpoint": "http://ehr.example.org/token", "capabilities": []}
    with pytest.raises(InsecureEndpoint):
        parse_smart_configuration(doc, "https://ehr.example.org/fhir")
    loopback = {"token_endpoint": "http://127.0.0.1:8080/token", "capabilities": []}
    assert parse_smart_configuration(loopback, "http://127.0.0.1:8080/fhir").token_endpoint
    with pytest.raises(InsecureEndpoint):
        parse_smart_configuration(loopback, "http://127.0.0.1:8080/fhir", allow_loopback_http=False)


def test_http_iss_is_refused(fake_server: Any) -> None:
    with pytest.raises(InsecureEndpoint):
        discover("http://ehr.example.org/fhir", fake_server.http())
    assert fake_server.requests == []


def test_unreachable_server_is_a_discovery_error_with_a_user_message() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    http = httpx.Client(transport=httpx.MockTransport(refuse))
    with pytest.raises(SmartDiscoveryError) as info:
        discover("https://ehr.example.org/fhir", http)
    assert "request failed" in str(info.value)
    assert "administrator" in info.value.user_message


def test_well_known_that_is_not_json_falls_back_then_reports(fake_server: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>login</html>")

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with pytest.raises(SmartDiscoveryError):
        discover(fake_server.iss, http)
