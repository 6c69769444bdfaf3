"""SMART App Launch endpoints: EHR launch, standalone launch, the OAuth redirect (callback)
and the app's public JWKS. Thin: smart_launch does the protocol; errors become a page with
the error's plain-words `user_message` and a 4xx/5xx status, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from plugin.services import Services
from plugin.smart_app.runtime import JWKS_PATH, LAUNCH_PATH, STANDALONE_PATH, SmartRuntime
from plugin.smart_app.web_session import (
    clear_slot_cookie,
    find_pending,
    new_slot,
    set_slot_cookie,
    stale_slots,
)
from smart_launch import (
    AuthorizationDenied,
    SmartDiscoveryError,
    SmartError,
    StateMismatch,
    jwks_document,
)

log = logging.getLogger("deepdr.smart")
MAX_PARAM = 2048


def error_page(status: int, message: str, title: str = "The app could not start") -> Response:
    html = render_template("smart_app/error.html", title=title, message=message)
    return Response(html, status=status, mimetype="text/html")


def status_for(exc: SmartError) -> int:
    if isinstance(exc, AuthorizationDenied):
        return 403
    if isinstance(exc, SmartDiscoveryError):
        return 502
    return 400


def _param(name: str) -> str | None:
    value = request.args.get(name)
    if value is None or not value.strip() or len(value) > MAX_PARAM:
        return None
    return value.strip()


def register_launch_routes(bp: Blueprint, services: Services, runtime: SmartRuntime) -> None:
    redirect_path = services.settings.smart.redirect_path

    def begin(start: Any) -> Response:
        runtime.sessions.save(start.session)
        slot = new_slot()
        response = redirect(start.authorization.url, code=302)
        for stale in stale_slots(runtime, request.cookies):
            clear_slot_cookie(response, runtime, stale)
        set_slot_cookie(response, runtime, slot, start.session.session_id)
        return response

    @bp.get(LAUNCH_PATH)
    def ehr_launch() -> Response:
        iss, launch = _param("iss"), _param("launch")
        if iss is None or launch is None:
            return error_page(
                400,
                "This page is opened by the EHR when it launches the app (it needs the EHR's "
                "address and a launch code). Launch the app from the EHR.",
            )
        try:
            start = runtime.client.begin_ehr_launch(iss, launch)
        except SmartError as exc:
            log.info("EHR launch refused: %s", type(exc).__name__)
            return error_page(status_for(exc), exc.user_message)
        return begin(start)

    @bp.get(STANDALONE_PATH)
    def standalone_launch() -> Response:
        allowed = services.settings.smart.allowed_issuers
        iss = _param("iss")
        if iss is None and allowed and len(allowed) == 1:
            iss = allowed[0]
        if iss is None:
            html = render_template("smart_app/standalone.html", issuers=allowed or ())
            return Response(html, mimetype="text/html")
        try:
            start = runtime.client.begin_standalone_launch(iss)
        except SmartError as exc:
            log.info("standalone launch refused: %s", type(exc).__name__)
            return error_page(status_for(exc), exc.user_message)
        return begin(start)

    @bp.get(redirect_path, endpoint="callback")
    def callback() -> Response:
        params = {k: v[:MAX_PARAM] for k, v in request.args.items()}
        found = find_pending(runtime, request.cookies, params.get("state", ""))
        if found is None:
            exc = StateMismatch("no pending authorization matches the returned state")
            return error_page(400, exc.user_message, "Sign-in refused")
        try:
            session = runtime.client.complete_authorization(found.session, params)
        except SmartError as exc:
            log.info("SMART callback refused: %s", type(exc).__name__)
            runtime.sessions.delete(found.session.session_id)  # its state is spent
            response = error_page(status_for(exc), exc.user_message, "Sign-in refused")
            clear_slot_cookie(response, runtime, found.slot)
            return response
        runtime.sessions.save(session)
        return redirect(url_for("smart_app.review", slot=found.slot), code=303)

    @bp.get(JWKS_PATH)
    def jwks() -> Response:
        keys = [runtime.signing_key] if runtime.signing_key is not None else []
        response = jsonify(jwks_document(keys))
        response.headers["Cache-Control"] = "max-age=300"
        return response
