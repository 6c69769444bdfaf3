"""Discovery documents of the test EHR: SMART configuration (SMART App Launch 2.2
conformance), OpenID Connect discovery, and the legacy CapabilityStatement extensions."""

from __future__ import annotations

from typing import Any

from plugin.local_servers.test_ehr.config import TestEhrSettings
from plugin.local_servers.test_ehr.urls import EhrUrls

OAUTH_URIS_EXTENSION = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
CAPABILITIES_EXTENSION = "http://fhir-registry.smarthealthit.org/StructureDefinition/capabilities"

_BASE_CAPABILITIES = (
    "launch-ehr",
    "launch-standalone",
    "authorize-post",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "sso-openid-connect",
    "context-banner",
    "context-style",
    "context-ehr-patient",
    "context-ehr-encounter",
    "context-standalone-patient",
    "permission-offline",
    "permission-online",
    "permission-patient",
    "permission-user",
)


def capabilities(settings: TestEhrSettings) -> list[str]:
    caps = list(_BASE_CAPABILITIES)
    caps += [f"permission-{version}" for version in settings.scope_versions]
    return caps


def scopes_supported(settings: TestEhrSettings) -> list[str]:
    common = ["openid", "fhirUser", "launch", "launch/patient", "offline_access", "online_access"]
    if "v2" in settings.scope_versions:
        return common + ["patient/*.cruds", "user/*.cruds", "system/*.cruds"]
    return common + ["patient/*.read", "patient/*.write", "user/*.read", "user/*.write"]


def smart_configuration(settings: TestEhrSettings, urls: EhrUrls) -> dict[str, Any]:
    return {
        "issuer": urls.issuer,
        "jwks_uri": urls.jwks,
        "authorization_endpoint": urls.authorize,
        "token_endpoint": urls.token,
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "private_key_jwt",
        ],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "scopes_supported": scopes_supported(settings),
        "response_types_supported": ["code"],
        "capabilities": capabilities(settings),
        "code_challenge_methods_supported": ["S256"],
    }


def openid_configuration(settings: TestEhrSettings, urls: EhrUrls) -> dict[str, Any]:
    return {
        "issuer": urls.issuer,
        "authorization_endpoint": urls.authorize,
        "token_endpoint": urls.token,
        "jwks_uri": urls.jwks,
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": scopes_supported(settings),
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "fhirUser"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": [
            "none",
            "client_secret_basic",
            "private_key_jwt",
        ],
    }


def capability_extensions(settings: TestEhrSettings, urls: EhrUrls) -> list[dict[str, Any]]:
    """CapabilityStatement.rest.security.extension: the deprecated discovery path."""
    return [
        {
            "url": OAUTH_URIS_EXTENSION,
            "extension": [
                {"url": "authorize", "valueUri": urls.authorize},
                {"url": "token", "valueUri": urls.token},
            ],
        },
        *({"url": CAPABILITIES_EXTENSION, "valueCode": c} for c in capabilities(settings)),
    ]
