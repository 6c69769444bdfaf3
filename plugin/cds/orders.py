"""order-select / order-sign: when a draft order is a retinal exam, fundus photography,
remote retinal imaging or an ophthalmology referral, say what is already on record.

- exam/photography ordered and an AI result for current photographs exists: the result
  (warning with a referral suggestion when it is referable: repeat screening will not
  help that patient; info otherwise);
- exam/photography ordered, no AI result, but a retinal exam within 12 months: info card
  "retinal exam already on record";
- ophthalmology referral ordered and an AI result exists: the result as information (no
  referral suggestion: the clinician is already referring).
Answers from the image index and grading cache only (no fetching, no grading): ordering
must stay fast; photographs are graded at patient-view. order-select looks at the newly
selected orders, order-sign at every draft order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, Literal

from cds_hooks import cards as cds
from cds_hooks.models import Card, CdsRequest, CdsResponse
from cds_hooks.prefetch import PrefetchData
from plugin.cds import codes
from plugin.cds.assess import Assessment, recent_exam
from plugin.cds.budget import Deadline, request_started
from plugin.cds.cards import (
    AI_DISCLAIMER,
    CardContext,
    card_key,
    card_source,
    referral_suggestion,
    result_card,
    result_indicator,
)
from plugin.cds.grading import CdsGrading, HookCall
from plugin.cds.handlers import HandlerOptions, read_call, units_of, utc_today

OrderKind = Literal["exam", "referral"]


def _codings(concept: Any) -> set[tuple[str, str]]:
    if not isinstance(concept, Mapping):
        return set()
    return {
        (str(c.get("system")), str(c.get("code")))
        for c in concept.get("coding") or []
        if isinstance(c, Mapping)
    }


def order_kind(resource: Mapping[str, Any]) -> OrderKind | None:
    """What a draft order is to us: a retinal exam / photography, an ophthalmology
    referral, or nothing we speak about."""
    if resource.get("resourceType") != "ServiceRequest":
        return None
    code = _codings(resource.get("code"))
    exams = {(codes.SNOMED, c) for c in codes.RETINAL_EXAM_PROCEDURES}
    exams |= {(codes.CPT, c) for c in codes.RETINAL_EXAM_CPT}
    if code & exams:
        return "exam"
    performer = _codings(resource.get("performerType"))
    if (codes.SNOMED, codes.OPHTHALMOLOGY[0]) in performer:
        return "referral"
    return None


def draft_orders(context: Mapping[str, Any], selected_only: bool) -> list[Mapping[str, Any]]:
    bundle = context.get("draftOrders")
    entries = bundle.get("entry") if isinstance(bundle, Mapping) else None
    orders = [
        e["resource"]
        for e in entries or []
        if isinstance(e, Mapping) and isinstance(e.get("resource"), Mapping)
    ]
    if not selected_only:
        return orders
    chosen = {s for s in context.get("selections") or [] if isinstance(s, str)}
    return [o for o in orders if f"{o.get('resourceType')}/{o.get('id')}" in chosen]


class OrderHandler:
    def __init__(
        self,
        grading: CdsGrading,
        options: HandlerOptions,
        service_id: str,
        *,
        selected_only: bool,
        today: Callable[[], date] = utc_today,
    ) -> None:
        self._grading = grading
        self._options = options
        self._service_id = service_id
        self._selected_only = selected_only
        self._today = today

    def handle(self, request: CdsRequest, data: PrefetchData) -> CdsResponse:
        kinds = {
            k for o in draft_orders(request.context, self._selected_only) if (k := order_kind(o))
        }
        if not kinds:
            return CdsResponse(cards=[])
        today = self._today()
        call = read_call(request, data, today)
        if call is None:
            return CdsResponse(cards=[])
        units = units_of(call, today)
        deadline = Deadline.after(request_started(time.monotonic()), self._options.budget_ms)
        state = self._grading.assess(
            units,
            HookCall(
                fhir_server=self._options.reachable_server(request),
                access_token=request.access_token,
                actor=call.actor,
                patient_ref=call.patient_ref,
                deadline=deadline,
                fetch=False,
                grade=False,
            ),
        )
        assessment = Assessment(patient_ref=call.patient_ref, images=state)
        encounter = request.context.get("encounterId")
        ctx = CardContext(
            service_id=self._service_id,
            source_label=self._options.source_label,
            source_url=self._options.source_url,
            encounter_ref=f"Encounter/{encounter}" if isinstance(encounter, str) else None,
        )
        cards: list[Card] = []
        if "exam" in kinds:
            found = _exam_order_card(assessment, ctx)
            if found is None and (last := recent_exam(call.record, today)) is not None:
                found = _recent_exam_card(assessment, ctx, last)
            if found is not None:
                cards.append(found)
        elif "referral" in kinds and state.grading is not None:
            found = result_card(assessment, ctx)
            if found is not None:
                cards.append(_information(assessment, found, "order-referral-info"))
        return CdsResponse(cards=cards)


def _exam_order_card(assessment: Assessment, ctx: CardContext) -> Card | None:
    base = result_card(assessment, ctx)
    if base is None:
        return None
    if result_indicator(assessment.images) == "info":
        return _information(assessment, base, "order-exam-info", prefix="On record: ")
    return cds.card(
        card_key(assessment, "order-exam-referable"),
        "Referable DR already suspected by AI screening: consider ophthalmology referral",
        "warning",
        card_source(ctx, "dr-screening-recent", assessment.images.model),
        detail=(base.detail or "")
        + "\n\nA repeat screening will not change the need for an eye specialist.",
        suggestions=[referral_suggestion(assessment, ctx)],
        override_reasons=[
            cds.coding(codes.NON_ADHERENCE_REASON, c, d) for c, d in codes.REFERRAL_OVERRIDE_REASONS
        ],
        links=base.links or (),
    )


def _information(assessment: Assessment, base: Card, kind: str, prefix: str = "") -> Card:
    """The result card's content as information only, under its own uuid (feedback about
    it must not land on the patient-view card)."""
    return cds.card(
        card_key(assessment, kind),
        prefix + base.summary,
        "info",
        base.source,
        detail=base.detail,
        links=base.links or (),
    )


def _recent_exam_card(assessment: Assessment, ctx: CardContext, last: date) -> Card:
    return cds.card(
        card_key(assessment, "order-exam-recent", last.isoformat()),
        f"Retinal exam already on record ({last.isoformat()})",
        "info",
        card_source(ctx, "dr-screening-recent", None),
        detail="A retinal exam or fundus photograph from the last 12 months is on record. "
        + AI_DISCLAIMER,
    )
