"""The demo, end to end: start the bundled FHIR server and a PACS (Orthanc with DICOMweb),
load the demo patients over HTTP (their photographs as an ImagingStudy over DICOMweb for
some, as Media / DocumentReference attachments for the others), run the screening workflow
for each (read the record with patient=Patient/ID searches -> retrieve the images -> grade
with the shipped grader bundle -> draft advice -> write preliminary results back), print a
compact table per patient, and stop the servers whatever happens.

Without a committed grader bundle the demo says so and drafts advice without grading;
without Orthanc every photograph stays an attachment; without the shared photographs the
patients have none.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from fhir_mappers.inbound import clinical_facts_from_fhir
from models.clinical_facts import ClinicalFacts
from plugin.config import Settings
from plugin.demo.generate import DemoPatient, generate_demo
from plugin.demo.pacs import (
    DICOMWEB_SCENARIOS,
    Route,
    attachment_route,
    load_photos_to_pacs,
    without_photos,
)
from plugin.demo.photos import PhotoLibrary
from plugin.demo.report import as_json, as_text, footer
from plugin.fhir import FhirError, FhirGateway, HttpFhirGateway
from plugin.imaging.config import BasicAuth, ImagingSettings, OriginCredentials
from plugin.local_servers.fhir_server import LocalFhirServer, LocalServerError
from plugin.local_servers.orthanc import LocalOrthanc
from plugin.store import open_store
from plugin.workflow import (
    Grader,
    GraderUnavailable,
    RetrievedImages,
    ScreeningOptions,
    ScreeningResult,
    ScreeningService,
    WorkflowError,
)
from plugin.workflow.factory import configured_grader, screening_service_from_settings

# What the app reads of a patient's record (one search each, all pages).
RECORD_TYPES: tuple[str, ...] = (
    "Condition",
    "Observation",
    "MedicationRequest",
    "MedicationStatement",
    "ImagingStudy",
    "Media",
    "DocumentReference",
)
PACS_USER = "demo"
JSON = dict[str, Any]
_SHIPPED: Any = object()


@dataclass(frozen=True)
class DemoResult:
    demo: DemoPatient
    patient_id: str
    facts: ClinicalFacts
    route: Route = "none"
    screening: ScreeningResult | None = None
    error: str | None = None  # why the screening failed (the demo goes on)
    # Without a grader: images retrieved anyway, to show each route works.
    retrieved_only: RetrievedImages | None = None


@dataclass
class DemoRun:
    results: list[DemoResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the demo could not do, and why
    grader: Grader | None = None
    rerun: ScreeningResult | None = None
    seconds: float = 0.0


def load_patient(gateway: FhirGateway, demo: DemoPatient, bundle: JSON | None = None) -> str:
    """POST the patient's transaction; the server-assigned Patient id."""
    bundle = bundle or demo.bundle
    result = gateway.transaction(bundle)
    for sent, got in zip(bundle["entry"], result.entries, strict=True):
        if sent["resource"]["resourceType"] == "Patient" and got.id:
            return got.id
    raise RuntimeError("the transaction response names no Patient")


def read_record(gateway: FhirGateway, patient_id: str) -> list[JSON]:
    """The Patient, every resource of RECORD_TYPES that refers to it, and the Medications
    its requests/statements reference (the screening workflow reads the same, plus our
    prior reports: plugin.workflow.record)."""
    resources: list[JSON] = [gateway.read("Patient", patient_id)]
    params = [("patient", f"Patient/{patient_id}"), ("_count", "50")]
    for rtype in RECORD_TYPES:
        resources += gateway.search(rtype, params, max_pages=20).resources
    wanted = {
        ref.split("/", 1)[1]
        for r in resources
        if isinstance(ref := (r.get("medicationReference") or {}).get("reference"), str)
        and ref.startswith("Medication/")
    }
    for med_id in sorted(wanted):
        resources.append(gateway.read("Medication", med_id))
    return resources


def run_demo(
    *,
    seed: int,
    as_of: date,
    json_output: bool = False,
    out: Callable[[str], None] = print,
    library: PhotoLibrary | None = None,
    base_url: str | None = None,
    dicomweb: bool = True,
    grader: Grader | None = _SHIPPED,
    rerun: bool = True,
    serve_ui: Callable[[str, str], None] | None = None,
    settings: Settings | None = None,
) -> list[DemoResult]:
    """`base_url`: use that (test) FHIR server instead of starting the bundled one.
    `grader`: default the one `[grader]` configures (the shipped bundle unless set; remote
    with grader.remote); None grades nothing. `settings`: the deployment's settings, of
    which the demo uses the grader and the advice sections (language model, default BMI
    population) as every screening does; its own servers, store and PACS replace the rest.
    `rerun`: screen the first graded patient a second time, to show the cache and the
    idempotent write-back.
    `serve_ui`: after printing, run the SMART app and the test EHR in front of the same
    servers and call `serve_ui(ehr_home_url, app_base_url)`, which blocks until the user is
    done (Ctrl-C); the servers stop when it returns."""
    started = time.perf_counter()
    settings = settings or Settings()
    run = DemoRun()
    patients = generate_demo(seed=seed, as_of=as_of, library=library)
    with ExitStack() as stack:
        if base_url is None:
            base_url = stack.enter_context(LocalFhirServer()).base_url
            if not json_output:
                out(f"FHIR server (Medplum in-memory router) at {base_url}")
        pacs = _start_pacs(stack, run) if dicomweb and library is not None else None
        if pacs is not None and not json_output:
            out(f"PACS (Orthanc, DICOMweb) at {pacs.dicomweb_url}")
        run.grader = _grader(run, settings) if grader is _SHIPPED else grader
        store_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="deepdr-demo-"))
        store = stack.enter_context(open_store(f"sqlite:///{store_dir}/demo.sqlite3"))
        gw = stack.enter_context(HttpFhirGateway(base_url, timeout_s=60))
        credentials = (
            (OriginCredentials(base_url=pacs.dicomweb_url, auth=_pacs_auth(pacs)),) if pacs else ()
        )
        service = screening_service_from_settings(
            settings,
            gw,
            store,
            grader=run.grader,
            imaging=ImagingSettings(credentials=credentials),
            clock=lambda: datetime.combine(as_of, datetime.now(UTC).time(), tzinfo=UTC),
        )
        options = ScreeningOptions(grade=run.grader is not None, require_images=False)
        for demo in patients:
            run.results.append(_load_and_screen(gw, service, options, demo, pacs, as_of))
        if rerun:
            run.rerun = _rerun(service, options, run.results)
        run.seconds = time.perf_counter() - started
        if json_output:
            out(as_json(run))
        else:
            for i, r in enumerate(run.results, 1):
                out(as_text(i, len(run.results), r))
            out(footer(library, run))
        if serve_ui is not None:
            # Imported here: the web app and test EHR are only needed when serving.
            from plugin.smart_app.demo import serve_demo_ui

            ui = stack.enter_context(
                serve_demo_ui(
                    base_url,
                    grader=run.grader,
                    imaging=ImagingSettings(credentials=credentials),
                    deployment=settings,
                )
            )
            serve_ui(ui.ehr_home_url, ui.app_base_url)
    return run.results


def _start_pacs(stack: ExitStack, run: DemoRun) -> LocalOrthanc | None:
    try:
        pacs = LocalOrthanc(users={PACS_USER: secrets.token_urlsafe(16)}, name="DEEPDR-DEMO")
        return stack.enter_context(pacs)
    except LocalServerError as exc:
        run.notes.append(f"No PACS: {exc}; every photograph stays a FHIR attachment.")
        return None


def _pacs_auth(pacs: LocalOrthanc) -> BasicAuth:
    user, password = pacs.auth or (PACS_USER, "")
    return BasicAuth(username=user, password=password)


def _grader(run: DemoRun, settings: Settings) -> Grader | None:
    try:
        return configured_grader(settings)
    except GraderUnavailable as exc:
        run.notes.append(
            f"Grading skipped: {exc.message}. The grader bundle is not committed yet; "
            "advice is drafted from the record alone."
        )
        return None


def _load_and_screen(
    gw: HttpFhirGateway,
    service: ScreeningService,
    options: ScreeningOptions,
    demo: DemoPatient,
    pacs: LocalOrthanc | None,
    as_of: date,
) -> DemoResult:
    route = attachment_route(demo)
    if pacs is not None and demo.photos and demo.scenario.key in DICOMWEB_SCENARIOS:
        pid = load_patient(gw, demo, without_photos(demo))
        load_photos_to_pacs(gw, pacs.dicomweb_url, f"Patient/{pid}", demo.photos, pacs.auth)
        route = "DICOMweb"
    else:
        pid = load_patient(gw, demo)
    try:
        result = service.screen(f"Patient/{pid}", options)
    except (WorkflowError, FhirError) as exc:
        message = exc.message if isinstance(exc, WorkflowError) else str(exc)
        facts = clinical_facts_from_fhir(read_record(gw, pid), as_of=as_of, patient_id=pid)
        return DemoResult(demo, pid, facts, route, None, message)
    retrieved = None
    if result.grading is None and result.record.facts.images:
        retrieved = service.retrieve_images(result.record.facts)
    return DemoResult(demo, pid, result.record.facts, route, result, None, retrieved)


def _rerun(
    service: ScreeningService, options: ScreeningOptions, results: list[DemoResult]
) -> ScreeningResult | None:
    for r in results:
        if r.screening is not None and r.screening.grading is not None:
            return service.screen(f"Patient/{r.patient_id}", options)
    return None


def main() -> int:  # convenience: `python -m plugin.demo.run`
    run_demo(seed=20240, as_of=date.today(), library=PhotoLibrary.open())
    return 0


if __name__ == "__main__":
    sys.exit(main())
