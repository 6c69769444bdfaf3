"""The clinician's actions: sign off (optionally ordering the referral), reject, send the
referral later. Each POST needs the slot's session cookie, the page's CSRF token and the
resource versions the page showed; the work is plugin.signoff's. Bad input re-renders the
page with the clinician's text kept and a plain-words message (4xx), never a trace."""

from __future__ import annotations

import logging
from typing import Literal, cast
from urllib.parse import urlsplit

from flask import Blueprint, redirect, request, url_for
from werkzeug.wrappers import Response

from fhir_mappers.outbound.signoff import ReferralOrder
from plugin.fhir.errors import FhirAuthError, FhirError
from plugin.services import Services
from plugin.signoff import (
    RejectRequest,
    SignoffConflict,
    SignoffError,
    SignoffInvalid,
    SignoffNotAllowed,
    SignRequest,
)
from plugin.smart_app.review_context import NoPatientContext, ReviewContext, build_context
from plugin.smart_app.runtime import SmartRuntime
from plugin.smart_app.views_launch import error_page
from plugin.smart_app.views_review import review_page, session_or_error
from smart_launch import SmartError

log = logging.getLogger("deepdr.smart")
MAX_FIELD = 4000
MAX_ITEMS = 200
Priority = Literal["routine", "urgent", "asap", "stat"]


def _versions(values: list[str]) -> dict[str, str]:
    out = {}
    for item in values[:100]:
        ref, _, version = item.partition("@")
        if ref and version:
            out[ref] = version
    return out


def _referral_order(ctx: ReviewContext, priority: str) -> ReferralOrder | None:
    suggested = ctx.result.get("referral") or {}
    if ctx.grading is None or not suggested:
        return None
    written = ctx.record.written if ctx.record is not None else {}
    eyes = tuple(e for e in suggested.get("eyes") or [] if e in ("left", "right"))
    refs = tuple(
        written[f"observation/{eye}/referable-dr"]
        for eye in eyes
        if f"observation/{eye}/referable-dr" in written
    )
    chosen = priority if priority in ("routine", "urgent") else suggested.get("priority", "routine")
    return ReferralOrder(
        priority=cast(Priority, chosen),
        reason=str(suggested.get("reason") or "Referable diabetic retinopathy suspected")[:4000],
        eyes=cast(tuple[Literal["left", "right"], ...], eyes),
        reason_refs=refs,
    )


def register_signoff_routes(bp: Blueprint, services: Services, runtime: SmartRuntime) -> None:
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(runtime.public_base_url))

    def guarded(slot: str) -> ReviewContext | Response:
        located = session_or_error(runtime, slot)
        if isinstance(located, Response):
            return located
        sent_origin = request.headers.get("Origin")
        if sent_origin is not None and sent_origin not in (origin, "null"):
            return error_page(403, "This action must come from the app's own page.", "Refused")
        if not runtime.csrf_ok(located.session.session_id, request.form.get("csrf")):
            return error_page(
                403, "This form has expired. Reload the page and try again.", "Refused"
            )
        try:
            ctx = build_context(services, runtime, located)
        except NoPatientContext:
            return error_page(400, "The EHR did not say which patient to review.")
        except (SmartError, FhirError) as exc:
            return _failure(exc)
        if not ctx.ready or ctx.refs is None or ctx.state is None:
            return error_page(409, "There is no saved AI result to act on yet.", "Not ready")
        if ctx.practitioner_ref is None or not ctx.caps.can_sign:
            notices = ctx.caps.notices() or ["Your EHR did not say who you are."]
            return review_page(ctx, status=403, alert=notices[0])
        return ctx

    def done(slot: str, outcome: str) -> Response:
        return redirect(url_for("smart_app.review", slot=slot, done=outcome), code=303)

    def texts_from_form(ctx: ReviewContext) -> tuple[str, ...]:
        plan = ctx.state.reviewed.care_plan if ctx.state is not None else None
        count = min(len(plan.get("activity") or []), MAX_ITEMS) if plan else 0
        return tuple(request.form.get(f"text-{i}", "")[:MAX_FIELD] for i in range(count))

    @bp.post("/smart/s/<slot>/sign")
    def sign(slot: str) -> Response:
        ctx = guarded(slot)
        if isinstance(ctx, Response):
            return ctx
        assert ctx.refs is not None and ctx.practitioner_ref is not None
        texts = texts_from_form(ctx)
        comment = request.form.get("comment", "")[:MAX_FIELD]
        referral = None
        if request.form.get("referral") == "yes" and ctx.caps.can_refer:
            referral = _referral_order(ctx, request.form.get("priority", ""))
        seen = _versions(request.form.getlist("version"))
        try:
            with ctx.gateway() as gw:
                result = ctx.signoff_service(gw).sign(
                    SignRequest(
                        refs=ctx.refs,
                        practitioner_ref=ctx.practitioner_ref,
                        seen_versions=seen,
                        advice_texts=texts,
                        comment=comment,
                        referral=referral,
                        advice_origin=ctx.advice_origin(),
                    )
                )
        except SignoffError as exc:
            return _refused(ctx, exc, texts=texts, comment=comment)
        except (SmartError, FhirError) as exc:
            return _failure(exc)
        log.info("sign-off: %s", result.outcome)
        return done(slot, result.outcome)

    @bp.post("/smart/s/<slot>/reject")
    def reject(slot: str) -> Response:
        ctx = guarded(slot)
        if isinstance(ctx, Response):
            return ctx
        assert ctx.refs is not None and ctx.practitioner_ref is not None
        reason = request.form.get("reason", "")[:1000]
        seen = _versions(request.form.getlist("version"))
        try:
            with ctx.gateway() as gw:
                result = ctx.signoff_service(gw).reject(
                    RejectRequest(ctx.refs, ctx.practitioner_ref, seen, reason)
                )
        except SignoffError as exc:
            return _refused(ctx, exc, reason=reason)
        except (SmartError, FhirError) as exc:
            return _failure(exc)
        log.info("sign-off: %s", result.outcome)
        return done(slot, result.outcome)

    @bp.post("/smart/s/<slot>/referral")
    def referral(slot: str) -> Response:
        ctx = guarded(slot)
        if isinstance(ctx, Response):
            return ctx
        assert ctx.refs is not None and ctx.practitioner_ref is not None
        order = _referral_order(ctx, request.form.get("priority", ""))
        if order is None or not ctx.caps.can_refer:
            return review_page(ctx, status=409, alert="No referral is suggested for this result.")
        try:
            with ctx.gateway() as gw:
                result = ctx.signoff_service(gw).send_referral(
                    ctx.refs, ctx.practitioner_ref, order
                )
        except SignoffError as exc:
            return _refused(ctx, exc)
        except (SmartError, FhirError) as exc:
            return _failure(exc)
        return done(slot, result.outcome)


def _refused(ctx: ReviewContext, exc: SignoffError, **kept: object) -> Response:
    status = (
        409
        if isinstance(exc, SignoffConflict)
        else 403
        if isinstance(exc, SignoffNotAllowed)
        else 422
        if isinstance(exc, SignoffInvalid)
        else 400
    )
    log.info("sign-off refused: %s", type(exc).__name__)
    return review_page(ctx, status=status, alert=exc.user_message, kept=kept)


def _failure(exc: Exception) -> Response:
    if isinstance(exc, SmartError):
        return error_page(401, exc.user_message, "Session ended")
    if isinstance(exc, FhirAuthError):
        return error_page(
            403, "The EHR refused the write. Your permissions may have changed.", "Refused"
        )
    log.warning("sign-off: FHIR %s", type(exc).__name__)
    return error_page(
        502,
        "The EHR's FHIR server did not accept the request. Please try again.",
        "The EHR is not responding",
    )
