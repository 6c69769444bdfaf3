"""Unit-test fakes for smart_launch: an in-process SMART authorization server behind
httpx.MockTransport (no sockets), and a clock the tests move by hand."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

ISS = "https://ehr.example.org/fhir"
ISSUER = "https://ehr.example.org/auth"
TOKEN_URL = "https://ehr.example.org/auth/token"
AUTHORIZE_URL = "https://ehr.example.org/auth/authorize"
JWKS_URL = "https://ehr.example.org/auth/jwks"
CLIENT_ID = "deepdr-app"
REDIRECT_URI = "https://app.example.org/callback"


@dataclass
class FakeClock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_rsa_key() -> RSAKey:
    key = RSAKey.generate_key(2048)
    return RSAKey.import_key(key.as_dict(private=True), {"kid": key.thumbprint(), "use": "sig"})


_KEY_CACHE: list[RSAKey] = []


def shared_rsa_key() -> RSAKey:
    # RSA key generation is the slow part of these tests; one key serves them all.
    if not _KEY_CACHE:
        _KEY_CACHE.append(make_rsa_key())
    return _KEY_CACHE[0]


@dataclass
class FakeSmartServer:
    """Serves the discovery document, JWKS and token endpoint of a SMART server. Token
    answers are queued (status, body) pairs; requests are recorded for assertions."""

    iss: ClassVar[str] = ISS
    issuer: ClassVar[str] = ISSUER
    token_url: ClassVar[str] = TOKEN_URL
    authorize_url: ClassVar[str] = AUTHORIZE_URL
    jwks_url: ClassVar[str] = JWKS_URL
    client_id: ClassVar[str] = CLIENT_ID
    redirect_uri: ClassVar[str] = REDIRECT_URI

    clock: FakeClock
    config: dict[str, Any] = field(default_factory=dict)
    well_known_status: int = 200
    metadata: dict[str, Any] | None = None
    key: RSAKey = field(default_factory=shared_rsa_key)
    token_answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    token_requests: list[httpx.Request] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    on_token: Callable[[httpx.Request], tuple[int, dict[str, Any]]] | None = None

    def __post_init__(self) -> None:
        if not self.config:
            self.config = {
                "issuer": ISSUER,
                "jwks_uri": JWKS_URL,
                "authorization_endpoint": AUTHORIZE_URL,
                "token_endpoint": TOKEN_URL,
                "grant_types_supported": ["authorization_code", "client_credentials"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
                "scopes_supported": ["openid", "fhirUser", "launch", "patient/*.rs"],
                "capabilities": ["launch-ehr", "launch-standalone", "permission-v2"],
                "code_challenge_methods_supported": ["S256"],
            }

    def http(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        url = str(request.url).split("?")[0]
        if url == f"{ISS}/.well-known/smart-configuration":
            return httpx.Response(self.well_known_status, json=self.config)
        if url == f"{ISS}/metadata":
            if self.metadata is None:
                return httpx.Response(404, json={"resourceType": "OperationOutcome"})
            return httpx.Response(200, json=self.metadata)
        if url == JWKS_URL:
            return httpx.Response(200, json=KeySet([self.key]).as_dict(private=False))
        if url == TOKEN_URL and request.method == "POST":
            self.token_requests.append(request)
            if self.on_token is not None:
                status, body = self.on_token(request)
            elif self.token_answers:
                status, body = self.token_answers.pop(0)
            else:
                status, body = 200, self.token_body()
            return httpx.Response(status, json=body)
        return httpx.Response(404, json={"error": "not found"})

    def token_body(self, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": f"at-{len(self.token_requests)}",
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "launch patient/Observation.rs openid fhirUser offline_access",
            "refresh_token": f"rt-{len(self.token_requests)}",
            "patient": "p1",
            "need_patient_banner": True,
        }
        body.update(extra)
        return body

    @staticmethod
    def form_of(request: httpx.Request) -> dict[str, str]:
        return dict(parse_qsl(request.content.decode("utf-8")))

    def id_token(self, key: RSAKey | None = None, alg: str = "RS256", **claims: Any) -> str:
        now = int(self.clock())
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "sub": "clin-1",
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "fhirUser": f"{ISS}/Practitioner/clin-1",
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        signer = key or self.key
        return jwt.encode({"alg": alg, "kid": signer.kid or ""}, payload, signer, algorithms=[alg])


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(now=float(int(time.time())))


@pytest.fixture
def fake_server(clock: FakeClock) -> FakeSmartServer:
    return FakeSmartServer(clock=clock)


# -- integration: the test EHR in front of the real FHIR server --------------------------------

PATIENTS = {"smart-flow-p1": "Ada", "smart-flow-p2": "Grace"}


@pytest.fixture(scope="session")
def flow_patients(fhir_base_url: str) -> dict[str, str]:
    """Two patients on the real FHIR server (ids prefixed so other suites are not confused)."""
    for pid, given in PATIENTS.items():
        body = {
            "resourceType": "Patient",
            "id": pid,
            "name": [{"family": "Flow", "given": [given]}],
        }
        httpx.put(f"{fhir_base_url}/Patient/{pid}", json=body, timeout=30).raise_for_status()
    return dict(PATIENTS)


@pytest.fixture
def start_ehr(fhir_base_url: str, flow_patients: dict[str, str]) -> Iterator[Callable[..., Any]]:
    """Start a test EHR (real WSGI server on 127.0.0.1) with the given clients and settings."""
    from plugin.local_servers.test_ehr import LocalTestEhr, RegisteredClient, TestEhrSettings

    started: list[LocalTestEhr] = []

    def start(*clients: RegisteredClient, **settings: Any) -> LocalTestEhr:
        ehr = LocalTestEhr(
            TestEhrSettings(fhir_upstream=fhir_base_url, clients=clients, **settings)
        )
        ehr.start()
        started.append(ehr)
        return ehr

    yield start
    for ehr in started:
        ehr.stop()
