"""The application's long-lived services, built once per process from Settings.

    services = build_services(settings)   # store opened + migrated, queue, metrics, checks
    services.start_workers()              # in-process job workers (when configured)
    ...
    services.close()                      # stops workers, closes gateway and store

Used by the web app (`create_app` puts it on app.extensions["deepdr"]), the `worker`
command and CLI commands alike; no Flask here.

Seams for other parts (add to them rather than editing build_services):
- JOB_HANDLER_FACTORIES: "module:function" names; each function takes Services and
  returns {job kind: handler}. Registered before any worker starts.
- services.readiness.add(Check(...)): more /readyz checks (e.g. a remote LLM).
- services.extensions: a dict for services others build (CDS router, SMART client...).
- services.fhir_gateway(base_url, token, actor): an audited gateway for a user's calls.
- services.add_closer(fn): run `fn` when the services close (a runtime's pools, clients).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from plugin.config import BackendServicesAuth, BearerFhirAuth, KServeV2Grader, Settings
from plugin.config_loader import ConfigError
from plugin.fhir.gateway import FhirGateway
from plugin.fhir.http_gateway import HttpFhirGateway, TokenProvider
from plugin.jobs.queue import JobQueue
from plugin.jobs.registry import Handler, HandlerRegistry
from plugin.jobs.worker import Worker, WorkerOptions
from plugin.observability.audit import (
    AUDIT_EVENT_JOB,
    AuditingGateway,
    AuditSink,
    FanOutAuditSink,
    JobAuditEventSink,
    audit_event_handler,
)
from plugin.observability.health import (
    Check,
    CheckResult,
    Readiness,
    fhir_check,
    grader_check,
    kserve_ready_probe,
    store_check,
)
from plugin.observability.metrics import Metrics
from plugin.store.database import StoreOptions
from plugin.store.errors import StoreConfigError
from plugin.store.store import Store, open_store

log = logging.getLogger(__name__)

JobHandlerFactory = Callable[["Services"], Mapping[str, Handler]]
JOB_HANDLER_FACTORIES: tuple[str, ...] = (
    "plugin.services:audit_job_handlers",
    "plugin.smart_app.review_job:review_job_handlers",
    "plugin.workflow.jobs:screening_job_handlers",
)
READINESS_FHIR_TIMEOUT_S = 2.0


def _shipped_bundles_dir() -> Path:
    # Located without importing models.grader (which may load onnxruntime).
    spec = importlib.util.find_spec("models.grader")
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) / "bundles" if locations else Path("models/grader/bundles")


SHIPPED_BUNDLES_DIR = _shipped_bundles_dir()


@dataclass
class Services:
    settings: Settings
    store: Store
    metrics: Metrics
    handlers: HandlerRegistry
    queue: JobQueue
    readiness: Readiness
    audit: AuditSink
    system_fhir: FhirGateway | None = None  # configured fhir.base_url with its auth
    # That server's access token (fhir.auth: bearer or Backend Services), for background work
    # that calls it outside the gateway: image URLs on its origin. Never stored or logged.
    system_token: TokenProvider | None = None
    worker: Worker | None = None
    extensions: dict[str, object] = field(default_factory=dict)
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _closed: bool = field(default=False, repr=False)

    def start_workers(self) -> Worker | None:
        """Starts in-process job workers once, when configured and any handler exists."""
        with self._lock:
            jobs = self.settings.jobs
            if self._closed or self.worker is not None or not jobs.in_process_workers:
                return self.worker
            if not self.handlers.kinds:
                return None
            self.worker = Worker(self.store.jobs, self.handlers, worker_options(self.settings))
            self.worker.start()
            return self.worker

    def add_closer(self, close: Callable[[], None]) -> None:
        """Registers `close` to run at `close()` (last added, first run). Added after the
        services were closed, it runs at once: nothing registered late is leaked."""
        with self._lock:
            if not self._closed:
                self._closers.append(close)
                return
        close()

    def wake_workers(self) -> None:
        if self.worker is not None:
            self.worker.wake()

    def fhir_gateway(self, base_url: str, token: TokenProvider | None, actor: str) -> FhirGateway:
        """A gateway to `base_url` with `token`, audited as `actor`. The caller closes it
        (`gateway.inner.close()` when audited) or lets it be collected."""
        inner = HttpFhirGateway(
            base_url,
            token=token,
            timeout_s=self.settings.fhir.timeout_s,
            max_retries=self.settings.fhir.max_retries,
        )
        return AuditingGateway(inner, self.audit, actor)

    def close(self, timeout_s: float | None = None) -> None:
        """Stops workers (running jobs get `timeout_s`, default the lease; one cut off is
        retried elsewhere after its lease expires), then closes gateways and the store."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            worker, self.worker = self.worker, None
        if worker is not None:
            worker.stop(timeout_s=self.settings.jobs.lease_s if timeout_s is None else timeout_s)
        for close in reversed(self._closers):
            try:
                close()
            except Exception as exc:
                log.warning("closing a service failed: %s", type(exc).__name__)
        self.store.close()

    @property
    def closed(self) -> bool:
        return self._closed


def worker_options(settings: Settings) -> WorkerOptions:
    jobs = settings.jobs
    return WorkerOptions(
        threads=jobs.worker_threads,
        lease=timedelta(seconds=jobs.lease_s),
        poll_interval_s=jobs.poll_interval_s,
    )


def build_services(settings: Settings, *, start_workers: bool = False) -> Services:
    """Opens the store (migrating it) and wires everything. Raises ConfigError for
    settings that fail against the outside world (unreadable key file, bad store URL),
    StoreError when the store cannot be reached."""
    try:
        store = open_store(settings.store.url, StoreOptions(pool_size=settings.store.pool_size))
    except StoreConfigError as exc:
        raise ConfigError([f"store.url: {exc}"]) from None
    try:
        services = _wire(settings, store)
    except BaseException:
        store.close()
        raise
    if start_workers:
        services.start_workers()
    return services


def _wire(settings: Settings, store: Store) -> Services:
    metrics = Metrics(
        queue_depth=lambda: {s.value: n for s, n in store.jobs.count_by_status().items()}
    )
    handlers = HandlerRegistry()
    waker = _Waker()
    queue = JobQueue(
        store.jobs, handlers, wake=waker, default_max_attempts=settings.jobs.max_attempts
    )
    sinks: list[AuditSink] = []
    if settings.audit.store_trail:
        sinks.append(store.audit)
    if settings.audit.fhir_audit_events:
        sinks.append(JobAuditEventSink(queue, settings.audit.source_name))
    audit = FanOutAuditSink(sinks, on_error=lambda kind: metrics.count_error(kind, "audit"))
    services = Services(
        settings=settings,
        store=store,
        metrics=metrics,
        handlers=handlers,
        queue=queue,
        readiness=Readiness(),
        audit=audit,
    )
    waker.target = services.wake_workers
    services.system_token = system_token_provider(settings)
    services.system_fhir = system_fhir_gateway(settings, services.system_token)
    if isinstance(services.system_fhir, HttpFhirGateway):
        services.add_closer(services.system_fhir.close)
    _add_readiness_checks(services)
    for name in JOB_HANDLER_FACTORIES:
        for kind, handler in load_object(name)(services).items():
            handlers.register(kind, handler)
    return services


class _Waker:
    """The queue's wake callback, bound to the workers once they exist."""

    target: Callable[[], None] | None = None

    def __call__(self) -> None:
        if self.target is not None:
            self.target()


def system_token_provider(settings: Settings) -> TokenProvider | None:
    """The access token for `fhir.base_url` that `fhir.auth` describes: the configured bearer
    token, or SMART Backend Services (one client: its token is cached until it expires)."""
    fhir = settings.fhir
    if fhir.base_url is None:
        return None
    auth = fhir.auth
    if isinstance(auth, BearerFhirAuth):
        return auth.token.get_secret_value
    if isinstance(auth, BackendServicesAuth):
        return _backend_services_token(fhir.base_url, auth)
    return None


def system_fhir_gateway(
    settings: Settings, token: TokenProvider | None = None
) -> HttpFhirGateway | None:
    """The gateway to `fhir.base_url` with `token` (see system_token_provider)."""
    fhir = settings.fhir
    if fhir.base_url is None:
        return None
    return HttpFhirGateway(
        fhir.base_url, token=token, timeout_s=fhir.timeout_s, max_retries=fhir.max_retries
    )


def _backend_services_token(base_url: str, auth: BackendServicesAuth) -> TokenProvider:
    from smart_launch import AsymmetricClient, BackendServicesClient, ClientAuthError, SigningKey

    try:
        pem = auth.private_key_path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            [f"fhir.auth.private_key_path: cannot read {auth.private_key_path} ({exc.strerror})"]
        ) from None
    try:
        key = SigningKey.from_pem(pem, auth.alg, auth.kid)
    except ClientAuthError as exc:
        raise ConfigError([f"fhir.auth.private_key_path: {exc}"]) from None
    client = BackendServicesClient(
        base_url, AsymmetricClient(auth.client_id, key, jku=auth.jku), auth.scopes
    )
    return client.access_token


def _add_readiness_checks(services: Services) -> None:
    settings = services.settings
    services.readiness.add(store_check(services.store))
    services.readiness.add(grader_check(grader_probe(settings)))
    if settings.fhir.base_url is not None:
        probe_gateway = HttpFhirGateway(
            settings.fhir.base_url, timeout_s=READINESS_FHIR_TIMEOUT_S, max_retries=0
        )
        services.add_closer(probe_gateway.close)
        services.readiness.add(fhir_check(probe_gateway.capabilities))


def grader_probe(settings: Settings) -> Callable[[], CheckResult]:
    """The bundle's metadata.json validated as the grader's loader does (schema, outputs,
    labels), and its model file present; with a remote grader (whose bundle may hold the
    metadata alone), then the inference server's ready endpoint. The ONNX graph is not
    opened here: an onnxruntime session costs the model's size in memory and seconds per
    probe; the loader compares it with the metadata when it loads."""
    remote = settings.grader.remote
    if isinstance(remote, KServeV2Grader):
        headers = (
            {"Authorization": f"Bearer {remote.api_key.get_secret_value()}"}
            if remote.api_key
            else {}
        )
        server_ready = kserve_ready_probe(
            remote.url, remote.model_name, remote.model_version, remote.timeout_s, headers
        )

        def remote_probe() -> CheckResult:
            metadata = bundle_check(bundle_dir(settings), need_model_file=False)
            return server_ready() if metadata.ok else metadata

        return remote_probe
    return lambda: bundle_check(bundle_dir(settings))


def bundle_check(folder: Path | None, *, need_model_file: bool = True) -> CheckResult:
    """Whether `folder` is a grader bundle the loader would accept, short of opening the
    model: "name version" when it is, else why not (safe to show: the folder's name only)."""
    from pydantic import ValidationError

    from models.grader.bundle import Metadata

    if folder is None:
        return CheckResult(False, "no model bundle configured and none shipped")
    if not folder.is_dir():
        return CheckResult(False, f"model bundle folder {folder.name!r} not found")
    where = f"model bundle {folder.name!r}"
    try:
        raw = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return CheckResult(False, f"{where} lacks metadata.json")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return CheckResult(False, f"{where}: metadata.json is not readable JSON")
    try:
        metadata = Metadata.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        place = ".".join(str(p) for p in first["loc"]) or "metadata"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return CheckResult(False, f"{where}: metadata.json {place}: {first['msg']}{more}")
    if need_model_file and not (folder / metadata.model_file).is_file():
        return CheckResult(False, f"model bundle {folder.name!r} lacks {metadata.model_file}")
    return CheckResult(True, f"{metadata.name} {metadata.version}")


def bundle_dir(settings: Settings) -> Path | None:
    """The configured bundle folder, else the shipped one (the newest by name)."""
    if settings.grader.bundle is not None:
        return settings.grader.bundle
    shipped = sorted(p.parent for p in SHIPPED_BUNDLES_DIR.glob("*/metadata.json"))
    return shipped[-1] if shipped else None


def audit_job_handlers(services: Services) -> dict[str, Handler]:
    """The FHIR AuditEvent writer, when enabled (it needs the system FHIR gateway)."""
    gateway = services.system_fhir
    if not services.settings.audit.fhir_audit_events or gateway is None:
        return {}
    return {AUDIT_EVENT_JOB: audit_event_handler(lambda: gateway)}


def load_object(name: str) -> JobHandlerFactory:
    module_name, _, attr = name.partition(":")
    factory: JobHandlerFactory = getattr(importlib.import_module(module_name), attr)
    return factory


__all__ = [
    "JOB_HANDLER_FACTORIES",
    "Check",
    "Services",
    "build_services",
    "bundle_dir",
    "worker_options",
]
