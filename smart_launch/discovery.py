"""SMART discovery: `{iss}/.well-known/smart-configuration` (SMART App Launch 2.2,
conformance), with the deprecated CapabilityStatement `oauth-uris` extension as a fallback
for older servers."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urljoin

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from smart_launch.errors import PkceNotSupported, SmartDiscoveryError
from smart_launch.http import get_json_object, require_secure_url

WELL_KNOWN_PATH = ".well-known/smart-configuration"
OAUTH_URIS_EXTENSION = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
CAPABILITIES_EXTENSION = "http://fhir-registry.smarthealthit.org/StructureDefinition/capabilities"

# Endpoint fields that must be absolute URLs (relative ones are resolved against the FHIR base,
# as the spec tells clients to do for legacy servers).
_ENDPOINT_FIELDS = (
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "registration_endpoint",
    "management_endpoint",
    "introspection_endpoint",
    "revocation_endpoint",
)


def fhir_base(iss: str) -> str:
    """The FHIR base URL without a trailing slash (the form used for `aud`)."""
    return iss.rstrip("/")


class SmartConfiguration(BaseModel):
    """The discovery document. Unknown members are kept (`extra="allow"`) so nothing the
    server says is lost; the fields below are the ones this client acts on."""

    model_config = ConfigDict(extra="allow", frozen=True)

    issuer: str | None = None
    jwks_uri: str | None = None
    authorization_endpoint: str | None = None
    token_endpoint: str
    grant_types_supported: list[str] = Field(default_factory=list)
    token_endpoint_auth_methods_supported: list[str] = Field(default_factory=list)
    token_endpoint_auth_signing_alg_values_supported: list[str] = Field(default_factory=list)
    registration_endpoint: str | None = None
    scopes_supported: list[str] = Field(default_factory=list)
    response_types_supported: list[str] = Field(default_factory=list)
    management_endpoint: str | None = None
    introspection_endpoint: str | None = None
    revocation_endpoint: str | None = None
    capabilities: list[str] = Field(default_factory=list)
    code_challenge_methods_supported: list[str] = Field(default_factory=list)
    # Where this came from: the well-known document, or the legacy CapabilityStatement.
    source: Literal["well-known", "capability-statement"] = "well-known"

    @field_validator(
        "grant_types_supported",
        "token_endpoint_auth_methods_supported",
        "token_endpoint_auth_signing_alg_values_supported",
        "scopes_supported",
        "response_types_supported",
        "capabilities",
        "code_challenge_methods_supported",
        mode="before",
    )
    @classmethod
    def _null_list_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    def has_capability(self, capability: str) -> bool:
        return capability in self.capabilities

    @property
    def supports_s256(self) -> bool:
        return "S256" in self.code_challenge_methods_supported

    def require_s256(self, *, allow_unadvertised_legacy: bool = False) -> None:
        """SMART: servers SHALL support S256 and the app always uses it. A well-known document
        that does not list it is refused. The legacy CapabilityStatement has no way to say
        so; it is refused too unless the deployment opts in (PKCE is still sent)."""
        if self.supports_s256:
            return
        if self.source == "capability-statement" and allow_unadvertised_legacy:
            return
        raise PkceNotSupported(
            "server does not advertise PKCE S256 in code_challenge_methods_supported"
        )

    def require_authorization_code(self, *, allow_unadvertised_legacy: bool = False) -> None:
        if not self.authorization_endpoint:
            raise SmartDiscoveryError("server has no authorization_endpoint (no app launch)")
        if self.grant_types_supported and "authorization_code" not in self.grant_types_supported:
            raise SmartDiscoveryError("server does not support the authorization_code grant")
        self.require_s256(allow_unadvertised_legacy=allow_unadvertised_legacy)


def _absolutise(document: dict[str, Any], base: str) -> dict[str, Any]:
    out = dict(document)
    for name in _ENDPOINT_FIELDS:
        value = out.get(name)
        if isinstance(value, str) and value:
            out[name] = urljoin(base + "/", value)
    return out


def _check_endpoints(config: SmartConfiguration, allow_loopback_http: bool) -> None:
    for name in _ENDPOINT_FIELDS:
        value = getattr(config, name)
        if value:
            require_secure_url(value, name, allow_loopback_http=allow_loopback_http)


def parse_smart_configuration(
    document: dict[str, Any], iss: str, *, allow_loopback_http: bool = True
) -> SmartConfiguration:
    try:
        config = SmartConfiguration.model_validate(_absolutise(document, fhir_base(iss)))
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors() if e["loc"]) or "document"
        raise SmartDiscoveryError(f"smart-configuration is invalid ({fields})") from exc
    _check_endpoints(config, allow_loopback_http)
    return config


def parse_capability_statement(
    statement: dict[str, Any], iss: str, *, allow_loopback_http: bool = True
) -> SmartConfiguration:
    """Legacy discovery: CapabilityStatement.rest[].security.extension[oauth-uris]."""
    if statement.get("resourceType") not in ("CapabilityStatement", "Conformance"):
        raise SmartDiscoveryError("metadata is not a CapabilityStatement")
    uris: dict[str, str] = {}
    capabilities: list[str] = []
    for rest in statement.get("rest") or []:
        if not isinstance(rest, dict):
            continue
        security = rest.get("security")
        extensions = security.get("extension") if isinstance(security, dict) else None
        for ext in extensions if isinstance(extensions, list) else []:
            if not isinstance(ext, dict):
                continue
            if ext.get("url") == OAUTH_URIS_EXTENSION:
                for part in ext.get("extension") or []:
                    if isinstance(part, dict) and isinstance(part.get("valueUri"), str):
                        uris.setdefault(str(part.get("url")), part["valueUri"])
            elif ext.get("url") == CAPABILITIES_EXTENSION and isinstance(ext.get("valueCode"), str):
                capabilities.append(ext["valueCode"])
    if "authorize" not in uris and "token" not in uris:
        raise SmartDiscoveryError("metadata has no SMART oauth-uris extension")
    if "token" not in uris:
        raise SmartDiscoveryError("oauth-uris extension has no token endpoint")
    document: dict[str, Any] = {
        "authorization_endpoint": uris.get("authorize"),
        "token_endpoint": uris["token"],
        "registration_endpoint": uris.get("register"),
        "management_endpoint": uris.get("manage"),
        "introspection_endpoint": uris.get("introspect"),
        "revocation_endpoint": uris.get("revoke"),
        "capabilities": capabilities,
        "source": "capability-statement",
    }
    return parse_smart_configuration(
        {k: v for k, v in document.items() if v is not None},
        iss,
        allow_loopback_http=allow_loopback_http,
    )


def discover(
    iss: str, http: httpx.Client, *, allow_loopback_http: bool = True
) -> SmartConfiguration:
    """Fetch the SMART configuration of the FHIR server `iss`. The well-known document wins;
    the CapabilityStatement is read only when that document is absent or unusable."""
    base = fhir_base(require_secure_url(iss, "iss", allow_loopback_http=allow_loopback_http))
    status, document = get_json_object(http, f"{base}/{WELL_KNOWN_PATH}", "smart-configuration")
    well_known_error: SmartDiscoveryError | None = None
    if status == 200 and document is not None:
        try:
            return parse_smart_configuration(
                document, base, allow_loopback_http=allow_loopback_http
            )
        except SmartDiscoveryError as exc:
            well_known_error = exc
    status, statement = get_json_object(
        http, f"{base}/metadata", "CapabilityStatement", accept="application/fhir+json"
    )
    if status == 200 and statement is not None:
        try:
            return parse_capability_statement(
                statement, base, allow_loopback_http=allow_loopback_http
            )
        except SmartDiscoveryError:
            if well_known_error is not None:
                raise well_known_error from None
            raise
    if well_known_error is not None:
        raise well_known_error
    raise SmartDiscoveryError(f"no SMART configuration at {base} (HTTP {status} from /metadata)")
