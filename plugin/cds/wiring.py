"""Building our CDS Hooks services from the app's Services (settings, store, queue, audit).

    blueprint = create_cds_hooks_blueprint(services)     # the blueprint registry calls this

Security comes from cds_hooks (JWT ES384/RS384, issuer allow-list from `cds.issuers`,
audience = the URL called, jti replay cache in the store, shared by every worker), feedback
goes to the store's FeedbackStore (idempotent), prefetch and images are fetched with the
hook's own token through plugin.fhir's gateway.

Seams: `services.extensions["grader"]` may hold a prebuilt Grader (tests, benchmark; else
the configured bundle is loaded lazily, warmed up in the background when the blueprint is
built); `services.extensions["cds"]` receives the CdsRuntime (for tests and shutdown).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint

from cds_hooks.blueprint import CorsPolicy, create_cds_blueprint
from cds_hooks.jwks import HttpJwksCache
from cds_hooks.security import CdsJwtVerifier, JwtPolicy
from cds_hooks.service import ServiceBinding
from plugin.cds.background import BackgroundGrading, LocalGrading, ScreeningJobs
from plugin.cds.budget import CostEstimator, mark_request_start
from plugin.cds.fhir_access import GatewayFhirFetcher, HookFhirAccess
from plugin.cds.grading import CdsGrading
from plugin.cds.handlers import HandlerOptions, PatientViewHandler
from plugin.cds.orders import OrderHandler
from plugin.cds.services import (
    ORDER_SELECT_ID,
    order_services,
    patient_view_service,
)
from plugin.services import Services
from plugin.store.image_sources import ImageSourceIndex
from plugin.store.screenings import ScreeningRepository
from plugin.workflow.errors import GraderUnavailable
from plugin.workflow.grader import GRADER_EXTENSION, Grader, load_configured_grader
from plugin.workflow.jobs import LazyGrader

log = logging.getLogger(__name__)

CDS_EXTENSION = "cds"
# The SMART app's EHR launch path under server.public_base_url (the SMART app's LAUNCH_PATH).
SMART_LAUNCH_PATH = "/smart/launch"


@dataclass
class CdsRuntime:
    bindings: list[ServiceBinding]
    grading: CdsGrading
    access: HookFhirAccess
    background: BackgroundGrading
    local: LocalGrading
    jwks: HttpJwksCache

    def close(self) -> None:
        self.background.close()
        self.access.close()
        self.jwks.close()


def grader_provider(services: Services) -> Callable[[], Grader]:
    injected = services.extensions.get(GRADER_EXTENSION)
    if injected is not None:
        grader: Grader = injected  # type: ignore[assignment]
        return lambda: grader
    settings = services.settings.grader
    # The [grader] settings as a whole (local or grader.remote, threads, batch size): the
    # hooks must grade with the model the screening job uses (the cache is keyed by it).
    lazy = LazyGrader(lambda: load_configured_grader(settings))
    return RetryLater(lazy.get)


class RetryLater:
    """A grader provider that, after failing to load the bundle, says so at once for
    `pause_s` instead of trying again on every hook call (a load can take seconds)."""

    def __init__(
        self,
        load: Callable[[], Grader],
        pause_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._pause_s = pause_s
        self._clock = clock
        self._failed: tuple[float, GraderUnavailable] | None = None

    def __call__(self) -> Grader:
        failed = self._failed
        if failed is not None and self._clock() - failed[0] < self._pause_s:
            raise failed[1]
        try:
            grader = self._load()
        except GraderUnavailable as exc:
            self._failed = (self._clock(), exc)
            raise
        self._failed = None
        return grader


def _warm_up(provider: Callable[[], Grader]) -> None:
    def load() -> None:
        try:
            provider()
        except GraderUnavailable as exc:
            log.warning("CDS grader not loaded: %s", exc.message)

    threading.Thread(target=load, name="cds-grader-warmup", daemon=True).start()


def build_runtime(services: Services) -> CdsRuntime:
    settings = services.settings
    access = HookFhirAccess(
        services.audit, timeout_s=settings.fhir.timeout_s, max_retries=settings.fhir.max_retries
    )
    local = LocalGrading()
    background = BackgroundGrading(
        ScreeningJobs(services.queue, services.handlers, settings.fhir.base_url), local
    )
    provider = grader_provider(services)
    grading = CdsGrading(
        index=ImageSourceIndex(services.store.db, services.store.clock),
        cache=services.store.grading_cache,
        grader=provider,
        access=access,
        background=background,
        imaging=settings.imaging,
        estimator=CostEstimator(),
    )
    base = settings.server.public_base_url
    options = HandlerOptions(
        budget_ms=settings.cds.grading_budget_ms,
        smart_launch_url=base + SMART_LAUNCH_PATH if base and settings.smart.client_id else None,
        source_url=base + "/" if base else None,
        allowed_fhir_servers=(
            frozenset(settings.cds.allowed_fhir_servers)
            if settings.cds.allowed_fhir_servers is not None
            else None
        ),
    )
    screenings = ScreeningRepository(services.store.db, services.store.clock)
    patient_view = patient_view_service()
    bindings = [
        ServiceBinding(
            patient_view,
            PatientViewHandler(grading, options, patient_view.id, screenings=screenings),
        )
    ]
    for service in order_services():
        handler = OrderHandler(
            grading, options, service.id, selected_only=service.id == ORDER_SELECT_ID
        )
        bindings.append(ServiceBinding(service, handler))
    runtime = CdsRuntime(bindings, grading, access, background, local, HttpJwksCache())
    if GRADER_EXTENSION not in services.extensions:
        _warm_up(provider)
    return runtime


def create_cds_hooks_blueprint(services: Services) -> Blueprint | None:
    """The CDS Hooks blueprint (/cds-services...), or None when no CDS Client is trusted
    (`cds.issuers` empty): every call would be refused, so the endpoints stay off."""
    settings = services.settings
    if not settings.cds.issuers:
        log.info("CDS Hooks services off: no trusted CDS Client (cds.issuers) configured")
        return None
    runtime = build_runtime(services)
    services.extensions[CDS_EXTENSION] = runtime
    services.add_closer(runtime.close)
    verifier = CdsJwtVerifier(
        JwtPolicy(issuers=settings.cds.issuers, clock_skew_s=settings.cds.clock_skew_s),
        replay_cache=services.store.replay_cache,
        jwks_source=runtime.jwks,
    )
    blueprint = create_cds_blueprint(
        runtime.bindings,
        services.store.feedback,
        verifier,
        GatewayFhirFetcher(runtime.access),
        public_base_url=settings.server.public_base_url,
        cors=CorsPolicy(allowed_origins=frozenset(settings.cds.cors_origins)),
        require_auth_for_discovery=settings.cds.require_auth_on_discovery,
        allowed_fhir_servers=settings.cds.allowed_fhir_servers,
    )
    blueprint.before_request(lambda: mark_request_start())
    return blueprint
