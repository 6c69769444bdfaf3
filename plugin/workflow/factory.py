"""The screening workflow built from the settings, the same way for every caller (the
`screen` command, the screening job, the SMART app's review job, the demo):

    grader = configured_grader(settings)                  # [grader]: bundle, or grader.remote
    service = screening_service_from_settings(settings, gateway, store, grader=grader)

What comes from the settings: the language model (`advice.llm`, with its `api_key`, built
when engine llm first needs it), the deployment's BMI population (`advice.population`) and
the image sources (`imaging`, unless the caller passes its own). What the caller supplies:
the FHIR server (gateway and its token), the store, and the grader it loaded (loading is
the caller's policy: at once or lazily, fatal or advice only).
"""

from __future__ import annotations

from pathlib import Path

from plugin.config import Settings
from plugin.fhir.gateway import FhirGateway
from plugin.imaging.config import ImagingSettings
from plugin.imaging.http import TokenProvider
from plugin.inference.llm import configured_generator
from plugin.store.clock import Clock, utc_now
from plugin.store.store import Store
from plugin.workflow.grader import Grader, load_configured_grader
from plugin.workflow.grading import GradingObserver
from plugin.workflow.service import ScreeningService


def configured_grader(settings: Settings, *, bundle: Path | None = None) -> Grader:
    """The grader `[grader]` describes (local bundle, or its network on grader.remote);
    `bundle` replaces grader.bundle (the CLI's --bundle). GraderUnavailable otherwise."""
    grader = settings.grader
    if bundle is not None:
        grader = grader.model_copy(update={"bundle": bundle})
    return load_configured_grader(grader)


def screening_service_from_settings(
    settings: Settings,
    gateway: FhirGateway,
    store: Store,
    *,
    grader: Grader | None = None,
    imaging: ImagingSettings | None = None,
    fhir_token: TokenProvider | None = None,
    clock: Clock = utc_now,
    write_max_entries: int | None = None,
    observe_grading: GradingObserver | None = None,
) -> ScreeningService:
    """A ScreeningService for `gateway`'s FHIR server. `imaging`: default settings.imaging.
    `fhir_token`: that server's token, sent to image URLs on its origin."""
    llm = settings.advice.llm
    return ScreeningService(
        gateway,
        store=store,
        grader=grader,
        imaging=settings.imaging if imaging is None else imaging,
        fhir_token=fhir_token,
        llm=lambda: configured_generator(llm),
        clock=clock,
        write_max_entries=write_max_entries,
        observe_grading=observe_grading,
        default_population=settings.advice.population,
    )
