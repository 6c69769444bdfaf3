"""The review page and what it loads: job progress (JSON, polled), the photographs, the
lesion-map overlays and the EHR's style. Everything is under /smart/s/<slot>/ and needs
that slot's session cookie."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, jsonify, render_template, request
from werkzeug.wrappers import Response

from fhir_mappers.outbound.signoff_resources import SIGNOFF_KEY_SYSTEM
from models.grader.result import LESION_KEYS
from plugin.fhir.errors import FhirError
from plugin.services import Services
from plugin.smart_app.images import (
    SIZES,
    ImageUnavailable,
    RenderCache,
    fetch_image,
    lesion_overlay,
    render,
)
from plugin.smart_app.review_context import NoPatientContext, ReviewContext, build_context
from plugin.smart_app.review_model import build_review
from plugin.smart_app.runtime import SmartRuntime
from plugin.smart_app.style import StyleFetcher, css_text
from plugin.smart_app.views_launch import error_page
from plugin.smart_app.web_session import Located, load_slot
from plugin.store.jobs import JobStatus
from smart_launch import SmartError

log = logging.getLogger("deepdr.smart")

STAGE_TEXT = {
    "": "Waiting for a worker…",
    "record": "Reading the patient's record…",
    "images": "Fetching the fundus photographs…",
    "grade": "Grading the photographs…",
    "advise": "Drafting the advice…",
    "write": "Saving the preliminary result to the EHR…",
    "store": "Finishing…",
}
ENDED = "Your session with the EHR has ended. Please launch the app again from the EHR."


def session_or_error(runtime: SmartRuntime, slot: str) -> Located | Response:
    located = load_slot(runtime, request.cookies, slot)
    if located is None or located.session.tokens is None:
        return error_page(401, ENDED, "Session ended")
    return located


def review_page(ctx: ReviewContext, *, status: int = 200, **extra: Any) -> Response:
    """The page for whatever stage the review is at. `extra`: an alert, form values to keep."""
    view = build_review(
        ctx.grading, ctx.draft, ctx.facts, ctx.result.get("images") or [], ctx.state
    )
    tokens = ctx.tokens
    html = render_template(
        "smart_app/review.html",
        ctx=ctx,
        view=view,
        caps=ctx.caps,
        notices=ctx.caps.notices(),
        job=ctx.job,
        stage=STAGE_TEXT.get(ctx.job.progress_message if ctx.job else "", "Working…"),
        banner=_banner(ctx) if tokens.need_patient_banner is not False else None,
        csrf=ctx.runtime.csrf_token(ctx.session.session_id),
        styled=bool(tokens.smart_style_url),
        signer_name=_signer_name(ctx),
        signoff_tag=SIGNOFF_KEY_SYSTEM,
        **extra,
    )
    return Response(html, status=status, mimetype="text/html")


def human_name(name: Mapping[str, Any]) -> str:
    text = name.get("text") or " ".join([*name.get("given", []), name.get("family", "")])
    return str(text).strip()


def _signer_name(ctx: ReviewContext) -> str | None:
    last = ctx.state.last if ctx.state is not None else None
    ref = last.practitioner if last is not None else None
    if ref is None:
        return None
    try:
        with ctx.gateway() as gw:
            names = gw.read("Practitioner", ref.split("/", 1)[1]).get("name") or [{}]
    except (FhirError, SmartError, IndexError):
        return ref
    text = names[0].get("text") or " ".join(
        [*names[0].get("given", []), names[0].get("family", "")]
    )
    return text.strip() or ref


def _banner(ctx: ReviewContext) -> dict[str, Any] | None:
    """Name, birth date, sex and an identifier of the patient in context."""
    try:
        with ctx.gateway() as gw:
            patient = gw.read("Patient", ctx.patient_ref.split("/", 1)[1])
    except (FhirError, SmartError):
        return {"name": ctx.patient_ref, "birth_date": None, "gender": None, "mrn": None}
    names = patient.get("name") or [{}]
    name = (
        names[0].get("text")
        or " ".join([*names[0].get("given", []), names[0].get("family", "")]).strip()
    )
    ident = (patient.get("identifier") or [{}])[0].get("value")
    return {
        "name": name or ctx.patient_ref,
        "birth_date": patient.get("birthDate"),
        "gender": patient.get("gender"),
        "mrn": ident,
    }


def register_review_routes(bp: Blueprint, services: Services, runtime: SmartRuntime) -> None:
    styles = StyleFetcher()
    renders = RenderCache()
    services.add_closer(styles.close)

    def context(slot: str, *, load_state: bool = True) -> ReviewContext | Response:
        located = session_or_error(runtime, slot)
        if isinstance(located, Response):
            return located
        try:
            return build_context(services, runtime, located, load_state=load_state)
        except NoPatientContext:
            return error_page(
                400,
                "The EHR did not say which patient to review. Open the app from a patient's "
                "chart, or choose a patient when launching it.",
            )
        except SmartError as exc:
            return error_page(401, exc.user_message, "Session ended")
        except FhirError as exc:
            log.warning("review page: FHIR %s", type(exc).__name__)
            return error_page(
                502,
                "The EHR's FHIR server did not answer as expected. Please try again.",
                "The EHR is not responding",
            )

    @bp.get("/smart/s/<slot>/")
    def review(slot: str) -> Response:
        ctx = context(slot)
        if isinstance(ctx, Response):
            return ctx
        done = request.args.get("done")
        return review_page(ctx, done=done if done in DONE_TEXT else None, done_text=DONE_TEXT)

    @bp.get("/smart/s/<slot>/status")
    def status(slot: str) -> Response:
        ctx = context(slot, load_state=False)
        if isinstance(ctx, Response):
            ended = jsonify({"error": "session ended", "done": True})
            ended.status_code = 401
            return ended
        job = ctx.job
        body: dict[str, Any] = {"status": "unavailable", "progress": 0, "done": True}
        if job is not None:
            body = {
                "status": job.status.value,
                "progress": job.progress,
                "message": STAGE_TEXT.get(job.progress_message, "Working…"),
                "done": job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED),
            }
        return jsonify(body)

    def _image_meta(ctx: ReviewContext, index: int) -> Mapping[str, Any] | None:
        images = ctx.result.get("images") or []
        return images[index] if ctx.ready and 0 <= index < len(images) else None

    @bp.get("/smart/s/<slot>/image/<int:index>")
    def image(slot: str, index: int) -> Response:
        ctx = context(slot, load_state=False)
        if isinstance(ctx, Response):
            return ctx
        meta = _image_meta(ctx, index)
        size = request.args.get("size", "thumb")
        if meta is None or size not in SIZES:
            return Response("no such image", status=404, mimetype="text/plain")
        key = (ctx.session.session_id, str(index), size)
        rendered = renders.get(key)
        if rendered is None:
            try:
                with ctx.gateway() as gw:
                    img = fetch_image(
                        gw,
                        services.settings.imaging,
                        ctx.token(),
                        str(meta["source_ref"]),
                        str(meta["image_id"]) if meta.get("image_id") else None,
                    )
            except (ImageUnavailable, FhirError, SmartError) as exc:
                log.info("image for review unavailable: %s", type(exc).__name__)
                return Response("image unavailable", status=404, mimetype="text/plain")
            rendered = render(img, size)
            renders.put(key, rendered)
        response = Response(rendered.jpeg, mimetype="image/jpeg")
        response.headers["Cache-Control"] = "private, max-age=300"
        response.headers["X-Image-Crop"] = "field" if rendered.cropped else "none"
        return response

    @bp.get("/smart/s/<slot>/overlay/<int:index>")
    def overlay(slot: str, index: int) -> Response:
        ctx = context(slot, load_state=False)
        if isinstance(ctx, Response):
            return ctx
        meta = _image_meta(ctx, index)
        wanted = [
            k
            for k in request.args.get("lesions", ",".join(LESION_KEYS)).split(",")
            if k in LESION_KEYS
        ]
        graded = None
        if meta is not None and ctx.grading is not None:
            graded = next(
                (i for e in ctx.grading.eyes for i in e.images if i.image_id == meta["image_id"]),
                None,
            )
        png = lesion_overlay(graded, wanted, SIZES["full"]) if graded and wanted else None
        if png is None:
            return Response("no lesion map", status=404, mimetype="text/plain")
        response = Response(png, mimetype="image/png")
        response.headers["Cache-Control"] = "private, max-age=300"
        return response

    @bp.get("/smart/s/<slot>/style.css")
    def style(slot: str) -> Response:
        located = session_or_error(runtime, slot)
        if isinstance(located, Response):
            return Response("/* session ended */", mimetype="text/css")
        tokens = located.session.tokens
        assert tokens is not None
        variables = styles.variables(tokens.smart_style_url, located.session.iss)
        response = Response(css_text(variables), mimetype="text/css")
        response.headers["Cache-Control"] = "private, max-age=600"
        return response


DONE_TEXT = {
    "signed": "Signed. The report and observations are final and the plan is active in the EHR.",
    "already-signed": "This sign-off had already been saved; nothing was written twice.",
    "unchanged": "Nothing changed since your last signature, so nothing was written.",
    "rejected": "The AI result was rejected. It is marked cancelled in the EHR.",
    "already-rejected": "This rejection had already been saved.",
    "referral-sent": "The referral to ophthalmology was sent.",
}
