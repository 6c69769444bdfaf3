"""Typed application configuration: one `Settings` tree, validated once at start.

Sources, lowest to highest: defaults < a TOML file (`--config FILE` or $DEEPDR_CONFIG) <
environment variables `DEEPDR_<SECTION>__<KEY>` (nested with `__`, e.g. DEEPDR_STORE__URL,
DEEPDR_FHIR__AUTH__KIND). Loading and error reporting live in `plugin.config_loader`.

Extending: add a field to a section, or a new section model as a field of `Settings`. Every
model forbids unknown keys, so a typo is an error, not a silently ignored setting. Secrets
are `SecretStr`: never in repr, logs or `config check` output.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cds_hooks.security import TrustedIssuer
from models.advice.config import AdviceSettings, Backend, LlmSettings
from models.advice.types import Engine
from plugin.imaging.config import ImagingSettings


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def http_url(value: str, *, what: str = "URL") -> str:
    """An absolute http(s) URL without query or fragment, trailing slash removed."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an absolute http(s) URL")
    if parts.query or parts.fragment:
        raise ValueError(f"{what} must not have a query or fragment")
    return value.strip().rstrip("/")


# --- server ---------------------------------------------------------------------------------


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)  # 0: any free port (tests)
    workers: int = Field(default=2, ge=1, le=64)  # gunicorn worker processes
    threads: int = Field(default=4, ge=1, le=256)  # threads per worker (gthread)
    timeout_s: int = Field(default=60, ge=1, le=3600)  # a request running longer is killed
    graceful_timeout_s: int = Field(default=30, ge=1, le=3600)
    # The URL EHRs use to reach us (scheme://host[:port][/prefix]): the audience of CDS
    # Hooks JWTs and the base of SMART redirect URIs. Required behind a proxy.
    public_base_url: str | None = None
    # Proxies in front of us whose X-Forwarded-* headers are trusted (0: none).
    trusted_proxy_count: int = Field(default=0, ge=0, le=5)
    # Who may frame the app (CSP frame-ancestors): the EHR origins that embed the SMART app.
    frame_ancestors: tuple[str, ...] = ("'self'",)
    max_request_bytes: int = Field(default=16 * 1024 * 1024, gt=0)

    @field_validator("public_base_url")
    @classmethod
    def _public(cls, v: str | None) -> str | None:
        return None if v is None else http_url(v, what="public_base_url")

    @field_validator("frame_ancestors")
    @classmethod
    def _ancestors(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for source in v:
            if not source or any(c in source for c in ' ;,"\r\n'):
                raise ValueError("each frame ancestor is one CSP source (an origin or 'self')")
        return v


# --- store and jobs -------------------------------------------------------------------------


MAX_RETENTION_DAYS = 36_500  # a bound keeps `now - days` a valid date
RetentionDays = Annotated[int | None, Field(ge=1, le=MAX_RETENTION_DAYS)]


class RetentionSettings(_Section):
    """How long the store keeps each kind of row (`deepdr-fhir store purge`): days, or
    None / "forever" to keep them. Expired SMART sessions and JWT ids always go."""

    grading_cache_days: RetentionDays = 365
    cds_image_index_days: RetentionDays = 365
    screenings_days: RetentionDays = 730
    finished_jobs_days: RetentionDays = 90  # succeeded/failed only
    # Kept unless the operator decides: audit retention is a policy decision, feedback and
    # sign-off pairs are evaluation and fine-tuning data.
    audit_log_days: RetentionDays = None
    cds_feedback_days: RetentionDays = None
    signoff_pairs_days: RetentionDays = None
    # How often each `deepdr-fhir worker` purges; None / "off": only the command does.
    purge_interval_h: int | None = Field(default=24, ge=1, le=24 * 365)

    @field_validator("*", mode="before")
    @classmethod
    def _spelled_none(cls, value: object, info: ValidationInfo) -> object:
        """TOML has no null: "forever" (the days) and "off" (the interval) write None."""
        word = "off" if info.field_name == "purge_interval_h" else "forever"
        if isinstance(value, str) and value.strip().lower() == word:
            return None
        return value


class StoreSettings(_Section):
    # sqlite:///relative.db, sqlite:////absolute.db or postgresql://user@host:port/db.
    # Prefer libpq's PGPASSWORD/passfile to a password in the URL; one in the URL is masked
    # in `config check` and never logged.
    url: str = "sqlite:///var/deepdr.sqlite3"
    pool_size: int = Field(default=8, ge=1, le=256)
    retention: RetentionSettings = RetentionSettings()

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if not v.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return v


class JobsSettings(_Section):
    worker_threads: int = Field(default=2, ge=1, le=64)
    lease_s: int = Field(default=60, ge=5, le=3600)
    max_attempts: int = Field(default=5, ge=1, le=100)
    poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    # Run job workers as threads inside each web process; turn off when `deepdr-fhir
    # worker` processes do the work.
    in_process_workers: bool = True


# --- FHIR -----------------------------------------------------------------------------------


class NoFhirAuth(_Section):
    kind: Literal["none"] = "none"


class BearerFhirAuth(_Section):
    kind: Literal["bearer"] = "bearer"
    token: SecretStr


class BackendServicesAuth(_Section):
    """SMART Backend Services (client_credentials + private_key_jwt) for system access."""

    kind: Literal["backend-services"] = "backend-services"
    client_id: str = Field(min_length=1)
    private_key_path: Path  # PEM (RS384: RSA 2048+, ES384: P-384), kept like a secret
    alg: Literal["RS384", "ES384"] = "RS384"
    kid: str | None = None
    jku: str | None = None
    scopes: tuple[str, ...] = ("system/Patient.rs", "system/Observation.cruds")


FhirAuth = Annotated[NoFhirAuth | BearerFhirAuth | BackendServicesAuth, Field(discriminator="kind")]


class FhirSettings(_Section):
    # The FHIR server for system work (background jobs, readiness, AuditEvents). Requests
    # made for a user use the EHR's own base URL and token instead.
    base_url: str | None = None
    timeout_s: float = Field(default=15.0, gt=0, le=300)
    max_retries: int = Field(default=2, ge=0, le=10)
    auth: FhirAuth = NoFhirAuth()

    @field_validator("base_url")
    @classmethod
    def _base(cls, v: str | None) -> str | None:
        return None if v is None else http_url(v, what="FHIR base URL")


# --- grader ---------------------------------------------------------------------------------


class NoRemoteGrader(_Section):
    kind: Literal["none"] = "none"


class KServeV2Grader(_Section):
    """An inference server speaking the KServe v2 / Triton HTTP protocol."""

    kind: Literal["kserve-v2"] = "kserve-v2"
    url: str
    model_name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]{1,128}$")
    model_version: str | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    api_key: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return http_url(v, what="inference server URL")


RemoteGrader = Annotated[NoRemoteGrader | KServeV2Grader, Field(discriminator="kind")]


class GraderSettings(_Section):
    # A bundle folder (model.onnx + metadata.json + MODEL_CARD.md); None: the shipped one.
    bundle: Path | None = None
    intra_op_threads: int | None = Field(default=None, ge=1, le=256)
    # onnxruntime execution providers in order of preference; empty: the predictor picks.
    providers: tuple[str, ...] = ()
    batch_size: int = Field(default=8, ge=1, le=256)
    remote: RemoteGrader = NoRemoteGrader()


# --- advice (the advice package's own settings, plus the endpoint's API key) -----------------


class LlmConfig(LlmSettings):
    # API key of an OpenAI-compatible endpoint, when not read from `api_key_env`.
    api_key: SecretStr | None = None


class AdviceConfig(AdviceSettings):
    llm: LlmConfig = LlmConfig()

    @model_validator(mode="after")
    def _backend_complete(self) -> Self:
        if self.engine != Engine.LLM:
            return self
        if self.llm.backend == Backend.OPENAI and not (self.llm.base_url and self.llm.model):
            raise ValueError("engine llm with backend openai needs llm.base_url and llm.model")
        if self.llm.backend == Backend.HF_LOCAL and self.llm.model_dir is None:
            raise ValueError("engine llm with backend hf_local needs llm.model_dir")
        return self


# --- CDS Hooks ------------------------------------------------------------------------------


class CdsSettings(_Section):
    # CDS Clients (EHRs) whose JWTs we accept: iss -> jwks_url, a static jwks, allowed jku.
    issuers: tuple[TrustedIssuer, ...] = ()
    clock_skew_s: float = Field(default=30.0, ge=0, le=300)
    require_auth_on_discovery: bool = True
    cors_origins: tuple[str, ...] = ()
    # FHIR servers prefetch may be fetched from; None: any the verified client names.
    allowed_fhir_servers: tuple[str, ...] | None = None
    # Time a hook call may spend grading before answering without a grade.
    grading_budget_ms: int = Field(default=3000, ge=0, le=60_000)


# --- SMART ----------------------------------------------------------------------------------


SMART_RECOMMENDED_SCOPES: tuple[str, ...] = (
    "openid",
    "fhirUser",
    "online_access",
    # Reading the record and the photographs (patient in context).
    "patient/Patient.r",
    "patient/Condition.rs",
    "patient/Observation.rs",
    "patient/MedicationRequest.rs",
    "patient/MedicationStatement.rs",
    "patient/ImagingStudy.rs",
    "patient/Media.rs",
    "patient/DocumentReference.rs",
    "patient/Procedure.rs",  # eye exams and palliative care recorded as Procedures
    "patient/DiagnosticReport.rs",
    "patient/ServiceRequest.rs",
    "user/Medication.r",
    "user/Endpoint.r",
    "user/Practitioner.r",
    # Writing as the clinician: the preliminary result, then its sign-off.
    "user/Device.crs",
    "user/DiagnosticReport.cru",
    "user/Observation.cru",
    "user/CarePlan.cru",
    "user/ServiceRequest.cru",
    "user/Provenance.crs",
)
"""What the SMART review app asks for (v2 syntax; translated for v1-only servers): read the
record and photographs of the patient in context, write preliminary results and their
sign-off as the clinician. Granted less, the app degrades (plugin.smart_app.capabilities).
The `launch` scope is added for EHR launches by the launch code itself."""


class SmartSettings(_Section):
    client_id: str | None = None  # None: the SMART app is not enabled
    client_auth: Literal["public", "client_secret_basic", "private_key_jwt"] = "public"
    client_secret: SecretStr | None = None
    private_key_path: Path | None = None
    signing_alg: Literal["RS384", "ES384"] = "RS384"
    scopes: tuple[str, ...] = SMART_RECOMMENDED_SCOPES
    # FHIR base URLs an EHR launch may name as `iss`; None: any (development only).
    allowed_issuers: tuple[str, ...] | None = None
    redirect_path: str = Field(default="/smart/callback", pattern=r"^/[A-Za-z0-9/_\-.]*$")
    # AES-256-GCM keys for stored SMART sessions (URL-safe base64 of 32 bytes); the first
    # encrypts, all decrypt (rotation).
    session_keys: tuple[SecretStr, ...] = ()

    @field_validator("session_keys")
    @classmethod
    def _aes_keys(cls, keys: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        for key in keys:
            text = key.get_secret_value()
            try:
                raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            except (ValueError, binascii.Error):
                raw = b""
            if len(raw) != 32:
                raise ValueError("each session key must be URL-safe base64 of 32 random bytes")
        return keys

    @model_validator(mode="after")
    def _secrets_present(self) -> Self:
        if self.client_id is None:
            return self
        if self.client_auth == "client_secret_basic" and self.client_secret is None:
            raise ValueError("client_auth client_secret_basic needs smart.client_secret")
        if self.client_auth == "private_key_jwt" and self.private_key_path is None:
            raise ValueError("client_auth private_key_jwt needs smart.private_key_path")
        if not self.session_keys:
            raise ValueError("the SMART app needs smart.session_keys (at least one key)")
        return self


# --- observability --------------------------------------------------------------------------


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    format: Literal["json", "text"] = "json"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v


class MetricsSettings(_Section):
    enabled: bool = True
    # Folder shared by gunicorn workers for prometheus_client's multiprocess mode; None:
    # $PROMETHEUS_MULTIPROC_DIR, else `serve` makes a fresh temporary one.
    multiprocess_dir: Path | None = None


class AuditSettings(_Section):
    store_trail: bool = True  # audit rows in the store (references and codes only)
    fhir_audit_events: bool = False  # also write FHIR AuditEvents (through background jobs)
    source_name: str = Field(default="deepdr-fhir", pattern=r"^[A-Za-z0-9_.\-]{1,64}$")


# --- the tree -------------------------------------------------------------------------------


class Settings(_Section):
    server: ServerSettings = ServerSettings()
    store: StoreSettings = StoreSettings()
    jobs: JobsSettings = JobsSettings()
    fhir: FhirSettings = FhirSettings()
    imaging: ImagingSettings = ImagingSettings()
    grader: GraderSettings = GraderSettings()
    advice: AdviceConfig = AdviceConfig()
    cds: CdsSettings = CdsSettings()
    smart: SmartSettings = SmartSettings()
    logging: LoggingSettings = LoggingSettings()
    metrics: MetricsSettings = MetricsSettings()
    audit: AuditSettings = AuditSettings()

    @model_validator(mode="after")
    def _cross_section(self) -> Self:
        if self.smart.client_id is not None and self.server.public_base_url is None:
            raise ValueError("the SMART app needs server.public_base_url for its redirect URI")
        if self.audit.fhir_audit_events and self.fhir.base_url is None:
            raise ValueError("audit.fhir_audit_events needs fhir.base_url")
        return self

    def smart_redirect_uri(self) -> str | None:
        base = self.server.public_base_url
        return base + self.smart.redirect_path if base and self.smart.client_id else None
