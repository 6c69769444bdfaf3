"""The CDS service handlers (cds_hooks.service.CdsServiceHandler): plain classes, no Flask.

    handler.handle(request, prefetch_data) -> CdsResponse

patient-view: prefetch -> the patient's record (ClinicalFacts, our reports, exam evidence)
-> the current photographs' grading (index + cache; graded in the request when it fits the
budget, else in the background) -> cards. Order hooks: see plugin.cds.orders.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from cds_hooks.errors import CdsServiceError
from cds_hooks.models import CdsRequest, CdsResponse
from cds_hooks.prefetch import PrefetchData
from plugin.cds.assess import Assessment, SmartLaunch, app_context, screening_due
from plugin.cds.budget import Deadline, request_started
from plugin.cds.cards import CardContext, build_cards
from plugin.cds.grading import CdsGrading, HookCall, ImageState
from plugin.cds.sources import SourceUnit, current_units
from plugin.store.screenings import ScreeningRepository
from plugin.workflow.errors import InvalidRequest
from plugin.workflow.record import build_record
from plugin.workflow.types import PatientRecord

log = logging.getLogger(__name__)


def utc_today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class HandlerOptions:
    #: Time from the start of the HTTP request after which no grading starts in it.
    budget_ms: int = 3000
    #: The SMART app's launch URL (a `smart` link on the cards); None: no link.
    smart_launch_url: str | None = None
    source_label: str = "DeepDR-FHIR"
    source_url: str | None = None
    #: FHIR servers images may be read from (as cds.allowed_fhir_servers); None: any.
    allowed_fhir_servers: frozenset[str] | None = None

    def reachable_server(self, request: CdsRequest) -> str | None:
        """The request's fhirServer when we may contact it (allow-list), else None."""
        server = request.fhir_server
        if server is None or self.allowed_fhir_servers is None:
            return server
        allowed = {s.rstrip("/") for s in self.allowed_fhir_servers}
        return server if server.rstrip("/") in allowed else None


@dataclass(frozen=True)
class CallRecord:
    patient_ref: str
    record: PatientRecord
    fhir_base: str
    actor: str


def read_call(request: CdsRequest, data: PrefetchData, today: date) -> CallRecord | None:
    """The patient's record from the prefetch data; None when the patient does not exist
    (the client sent null, or the server said 404). Raises CdsServiceError (400) when the
    data cannot be the patient's record."""
    patient_id = request.context.get("patientId")
    patient_ref = f"Patient/{patient_id}"
    if data.resource("patient") is None:
        return None
    # A read gives the Patient; some clients send a searchset Bundle holding it.
    found = [p for p in data.resources("patient", "Patient") if p.get("id") == patient_id]
    if not found:
        raise CdsServiceError("prefetch 'patient' is not the context's patient", 400, "invalid")
    patient = found[0]
    resources = [dict(r) for key in data if key != "patient" for r in data.resources(key)]
    try:
        record = build_record(patient_ref, dict(patient), resources, today)
    except InvalidRequest:
        raise CdsServiceError(
            "prefetch data cannot be read as a FHIR record", 400, "invalid"
        ) from None
    user = request.context.get("userId")
    return CallRecord(
        patient_ref=patient_ref,
        record=record,
        fhir_base=request.fhir_server or "",
        actor=user if isinstance(user, str) and user else "cds-client",
    )


def units_of(call: CallRecord, today: date) -> list[SourceUnit]:
    facts = call.record.facts
    return current_units(call.fhir_base, facts.images, call.record.resources, today)


def obtained_keys(data: PrefetchData) -> list[str]:
    return [k for k in data if data[k].obtained]


class PatientViewHandler:
    def __init__(
        self,
        grading: CdsGrading,
        options: HandlerOptions,
        service_id: str,
        *,
        screenings: ScreeningRepository | None = None,
        today: Callable[[], date] = utc_today,
    ) -> None:
        self._grading = grading
        self._options = options
        self._service_id = service_id
        self._screenings = screenings
        self._today = today

    def handle(self, request: CdsRequest, data: PrefetchData) -> CdsResponse:
        deadline = Deadline.after(request_started(time.monotonic()), self._options.budget_ms)
        today = self._today()
        call = read_call(request, data, today)
        if call is None:
            return CdsResponse(cards=[])
        units = current_units(
            call.fhir_base, call.record.facts.images, call.record.resources, today
        )
        state = self._grading.assess(
            units,
            HookCall(
                fhir_server=self._options.reachable_server(request),
                access_token=request.access_token,
                actor=call.actor,
                patient_ref=call.patient_ref,
                deadline=deadline,
            ),
        )
        due = None if units else screening_due(call.record, obtained_keys(data), today)
        assessment = Assessment(
            patient_ref=call.patient_ref,
            images=state,
            due=due,
            smart=self._smart(call, state),
        )
        encounter = request.context.get("encounterId")
        ctx = CardContext(
            service_id=self._service_id,
            source_label=self._options.source_label,
            source_url=self._options.source_url,
            encounter_ref=f"Encounter/{encounter}" if isinstance(encounter, str) else None,
        )
        log.info("CDS %s: %d source(s), %s", self._service_id, len(units), _stats_text(state))
        return CdsResponse(cards=build_cards(assessment, ctx, today))

    def _smart(self, call: CallRecord, state: ImageState) -> SmartLaunch | None:
        url = self._options.smart_launch_url
        if url is None:
            return None
        screening_id = None
        if self._screenings is not None and call.fhir_base and state.image_hashes:
            latest = self._screenings.latest(call.fhir_base, call.patient_ref)
            if latest is not None and set(latest.image_hashes) == set(state.image_hashes):
                screening_id = latest.id
        return SmartLaunch(url, app_context(call.patient_ref, state, screening_id))


def _stats_text(state: ImageState) -> str:
    """Counts only (no references): safe for the log."""
    parts = [f"{k}={v}" for k, v in sorted(state.stats.items())]
    if state.pending is not None:
        parts.append(f"pending={state.pending.kind}:{state.pending.status}")
    return " ".join(parts) or "no images"
