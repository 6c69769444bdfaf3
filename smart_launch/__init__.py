"""SMART App Launch 2.2 client: discovery, PKCE, state, EHR and standalone launch, token
refresh, confidential clients (client_secret_basic, private_key_jwt), Backend Services.
Reusable: no DR knowledge, no Flask, no FHIR data access (the plugin's gateway does that)."""

from smart_launch.backend_services import BackendAuthError, BackendServicesClient
from smart_launch.client_auth import (
    AsymmetricClient,
    ClientAuthenticator,
    PublicClient,
    SymmetricClient,
)
from smart_launch.discovery import SmartConfiguration, discover
from smart_launch.errors import (
    AuthorizationDenied,
    ClientAuthError,
    IdTokenInvalid,
    InsecureEndpoint,
    IssuerMismatch,
    IssuerNotAllowed,
    PkceError,
    PkceNotSupported,
    RefreshFailed,
    SessionError,
    SmartAuthError,
    SmartDiscoveryError,
    SmartError,
    StateMismatch,
    TokenExpired,
    TokenResponseError,
)
from smart_launch.keys import SigningKey, jwks_document
from smart_launch.launch import (
    AuthorizationRequest,
    LaunchStart,
    SmartAppConfig,
    SmartLaunchClient,
)
from smart_launch.provider import SessionTokenProvider
from smart_launch.scopes import GrantedScopes
from smart_launch.session import (
    InMemorySessionBackend,
    SessionBackend,
    SessionCipher,
    SessionRepository,
    SmartSession,
)
from smart_launch.tokens import FhirContextItem, TokenSet

__all__ = [
    "AsymmetricClient",
    "AuthorizationDenied",
    "AuthorizationRequest",
    "BackendAuthError",
    "BackendServicesClient",
    "ClientAuthError",
    "ClientAuthenticator",
    "FhirContextItem",
    "GrantedScopes",
    "IdTokenInvalid",
    "InMemorySessionBackend",
    "InsecureEndpoint",
    "IssuerMismatch",
    "IssuerNotAllowed",
    "LaunchStart",
    "PkceError",
    "PkceNotSupported",
    "PublicClient",
    "RefreshFailed",
    "SessionBackend",
    "SessionCipher",
    "SessionError",
    "SessionRepository",
    "SessionTokenProvider",
    "SigningKey",
    "SmartAppConfig",
    "SmartAuthError",
    "SmartConfiguration",
    "SmartDiscoveryError",
    "SmartError",
    "SmartLaunchClient",
    "SmartSession",
    "StateMismatch",
    "SymmetricClient",
    "TokenExpired",
    "TokenResponseError",
    "TokenSet",
    "discover",
    "jwks_document",
]
