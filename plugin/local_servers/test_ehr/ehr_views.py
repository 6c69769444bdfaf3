"""The EHR side of an EHR launch: a home page listing patients with a launch button per
registered app, and `/ehr/launch`, which binds a `launch` value to the chosen patient,
encounter and user (and, for a CDS Hooks card's smart link, its `app_context`, returned as
`appContext` with the token), then sends the browser to the app's launch URL with `iss` and
`launch`."""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from flask import Blueprint, Response, jsonify, redirect, render_template, request

from plugin.local_servers.test_ehr.auth_views import current_user, error_page
from plugin.local_servers.test_ehr.fhir_lookup import list_patients, patient_exists
from plugin.local_servers.test_ehr.oauth import EhrContext
from plugin.local_servers.test_ehr.store import Launch, LaunchContext
from plugin.local_servers.test_ehr.urls import EhrUrls
from smart_launch.tokens import FHIR_ID_RE, MAX_APP_CONTEXT_CHARS

# A SMART Style document (scopes-and-launch-context, "SMART App Styling").
SMART_STYLE = {
    "color_background": "#f7f7f4",
    "color_error": "#9e2d2d",
    "color_highlight": "#1f6f8b",
    "color_modal_backdrop": "rgba(0,0,0,0.4)",
    "color_success": "#2e7d32",
    "color_text": "#222222",
    "dim_border_radius": "4px",
    "dim_font_size": "15px",
    "dim_spacing_size": "16px",
    "font_family_body": "system-ui, sans-serif",
    "font_family_heading": "system-ui, sans-serif",
}


def _flag(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.lower() in ("1", "true", "yes")


def create_ehr_blueprint(ctx: EhrContext, http: httpx.Client) -> Blueprint:
    bp = Blueprint("test_ehr_ehr", __name__, template_folder="templates")

    @bp.get("/")
    def home() -> Any:
        apps = [c.registered for c in ctx.registry.all() if c.registered.launch_uri]
        return render_template(
            "test_ehr/home.html",
            patients=list_patients(http, ctx.settings.fhir_upstream),
            apps=apps,
            iss=EhrUrls.current().fhir,
            user=current_user(ctx),
        )

    @bp.get("/ehr/launch")
    def launch() -> Any:
        client = ctx.registry.query_client(request.args.get("client_id"))
        if client is None or not client.registered.launch_uri:
            return error_page(400, "Unknown app, or the app has no registered launch URL.")
        patient = request.args.get("patient") or None
        if patient is not None and not patient_exists(http, ctx.settings.fhir_upstream, patient):
            return error_page(400, "The chosen patient does not exist.")
        encounter = request.args.get("encounter") or None
        if encounter is not None and not FHIR_ID_RE.match(encounter):
            return error_page(400, "The encounter id is not a FHIR id.")
        fhir_context = tuple(request.args.getlist("fhir_context"))
        # A CDS card's smart link: its appContext goes back to the app with the token.
        app_context = request.args.get("app_context") or None
        if app_context is not None and len(app_context) > MAX_APP_CONTEXT_CHARS:
            return error_page(400, "The appContext is too long.")
        urls = EhrUrls.current()
        context = LaunchContext(
            patient=patient,
            encounter=encounter,
            need_patient_banner=_flag(request.args.get("need_patient_banner"), True),
            smart_style_url=urls.smart_style if _flag(request.args.get("style"), True) else None,
            intent=request.args.get("intent") or None,
            tenant=ctx.settings.tenant,
            fhir_context=fhir_context,
            app_context=app_context,
        )
        launch_id = secrets.token_urlsafe(24)
        ctx.store.add_launch(
            Launch(
                launch_id=launch_id,
                client_id=client.client_id,
                user=current_user(ctx),
                context=context,
                expires_at=time.time() + ctx.settings.launch_lifetime_s,
            )
        )
        target = str(client.registered.launch_uri)
        separator = "&" if "?" in target else "?"
        return redirect(f"{target}{separator}{urlencode({'iss': urls.fhir, 'launch': launch_id})}")

    @bp.get("/ehr/smart-style.json")
    def smart_style() -> Response:
        return jsonify(SMART_STYLE)

    return bp
