"""Settings of the test EHR: the registered apps (client registry) and token lifetimes.
Short lifetimes let tests exercise expiry and refresh for real."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

AuthMethod = Literal["none", "client_secret_basic", "private_key_jwt"]

DEFAULT_APP_SCOPE = (
    "launch launch/patient openid fhirUser offline_access online_access "
    "patient/*.cruds user/*.cruds"
)


def _is_absolute_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment


class RegisteredClient(BaseModel):
    """One app registered with the EHR (SMART step 1). `scope` lists what the client may
    ever be granted; wildcards and permission letters cover narrower requests."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = Field(min_length=1)
    name: str = "SMART app"
    redirect_uris: tuple[str, ...] = ()
    launch_uri: str | None = None
    auth_method: AuthMethod = "none"
    client_secret: str | None = Field(default=None, repr=False)
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token")
    scope: str = DEFAULT_APP_SCOPE

    @model_validator(mode="after")
    def _credentials_match_method(self) -> RegisteredClient:
        for url in (*self.redirect_uris, self.launch_uri, self.jwks_uri):
            if url is not None and not _is_absolute_http_url(url):
                raise ValueError(f"not an absolute http(s) URL: {url!r}")
        if self.auth_method == "client_secret_basic" and not self.client_secret:
            raise ValueError("client_secret_basic needs client_secret")
        if self.auth_method == "private_key_jwt" and not (self.jwks or self.jwks_uri):
            raise ValueError("private_key_jwt needs jwks or jwks_uri")
        if "client_credentials" in self.grant_types and self.auth_method != "private_key_jwt":
            raise ValueError("client_credentials (Backend Services) needs private_key_jwt")
        if "authorization_code" in self.grant_types and not self.redirect_uris:
            raise ValueError("authorization_code needs at least one redirect URI")
        return self


class TestEhrSettings(BaseModel):
    """`fhir_upstream` is the real FHIR server the EHR fronts (servers/fhir)."""

    __test__ = False  # not a pytest test class, despite the name

    model_config = ConfigDict(extra="forbid", frozen=True)

    fhir_upstream: str
    clients: tuple[RegisteredClient, ...] = ()
    practitioner_id: str = "ehr-clinician"
    practitioner_name: str = "Test Clinician"
    seed_practitioner: bool = True  # PUT the user's Practitioner on the FHIR server at start
    access_token_lifetime_s: int = Field(default=3600, gt=0)
    backend_token_lifetime_s: int = Field(default=300, gt=0)
    refresh_token_lifetime_s: int = Field(default=24 * 3600, gt=0)
    authorization_code_lifetime_s: int = Field(default=60, gt=0)
    launch_lifetime_s: int = Field(default=300, gt=0)
    id_token_lifetime_s: int = Field(default=3600, gt=0)
    rotate_refresh_tokens: bool = True
    # Which scope syntaxes the server advertises (permission-v1 / permission-v2 capabilities).
    scope_versions: tuple[Literal["v1", "v2"], ...] = ("v1", "v2")
    tenant: str | None = None
    upstream_timeout_s: float = Field(default=30.0, gt=0)

    def client(self, client_id: str | None) -> RegisteredClient | None:
        for item in self.clients:
            if item.client_id == client_id:
                return item
        return None
