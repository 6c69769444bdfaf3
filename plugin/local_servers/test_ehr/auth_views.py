"""`/auth/*`: the authorize endpoint (patient picker, consent page), the token endpoint, the
id_token signing keys and OpenID discovery."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import Blueprint, Response, jsonify, render_template, request
from joserfc.jwk import KeySet

from plugin.local_servers.test_ehr.discovery_docs import openid_configuration
from plugin.local_servers.test_ehr.fhir_lookup import list_patients, patient_exists
from plugin.local_servers.test_ehr.oauth import EhrContext
from plugin.local_servers.test_ehr.store import EhrUser, GrantDecision, LaunchContext
from plugin.local_servers.test_ehr.urls import EhrUrls
from smart_launch.scopes import split_scope

CONSENT_TICKET_LIFETIME_S = 600
_OWN_FIELDS = ("ehr_decision", "ehr_scope", "ehr_patient", "ehr_ticket")


def current_user(ctx: EhrContext) -> EhrUser:
    """The test EHR has one signed-in clinician (no login page)."""
    pid = ctx.settings.practitioner_id
    return EhrUser(sub=pid, fhir_user=f"Practitioner/{pid}")


def error_page(status: int, message: str) -> tuple[str, int]:
    return render_template("test_ehr/error.html", message=message), status


def _oauth_params() -> list[tuple[str, str]]:
    """The app's authorization request parameters, to carry through the picker and consent
    forms (SMART servers support both GET and POST at the authorize endpoint)."""
    return [(k, v) for k, vs in request.values.lists() for v in vs if k not in _OWN_FIELDS]


def create_auth_blueprint(
    ctx: EhrContext, server: AuthorizationServer, http: httpx.Client
) -> Blueprint:
    bp = Blueprint("test_ehr_auth", __name__)

    @bp.route("/auth/authorize", methods=["GET", "POST"])
    def authorize() -> Any:
        user = current_user(ctx)
        try:
            grant = server.get_consent_grant(end_user=user)
        except OAuth2Error as error:
            if error.redirect_uri:
                return server.handle_error_response(None, error)
            # Unknown client or unregistered redirect_uri: never redirect (open redirector).
            return error_page(400, f"The app's sign-in request was refused: {error.description}")
        payload = grant.request.payload
        client_id = grant.request.client.get_client_id()
        allowed = split_scope(grant.request.scope)
        context = LaunchContext()
        launch_id = payload.data.get("launch")
        if launch_id:
            launch = ctx.store.get_launch(launch_id, client_id)
            if launch is None:  # expired between validation and now
                return error_page(400, "The EHR launch has expired. Launch the app again.")
            context, user = launch.context, launch.user
        needs_patient = "launch/patient" in allowed or any(
            s.startswith("patient/") for s in allowed
        )
        if needs_patient and context.patient is None:
            picked = request.values.get("ehr_patient")
            if not picked:
                return render_template(
                    "test_ehr/patient_picker.html",
                    patients=list_patients(http, ctx.settings.fhir_upstream),
                    params=_oauth_params(),
                    client_name=grant.request.client.registered.name,
                )
            if not patient_exists(http, ctx.settings.fhir_upstream, picked):
                return error_page(400, "The chosen patient does not exist.")
            context = replace(context, patient=picked, tenant=ctx.settings.tenant)
        binding = "|".join(
            (client_id, payload.redirect_uri or "", payload.data.get("code_challenge", ""))
            + (payload.state or "", context.patient or "")
        )
        decision = request.form.get("ehr_decision") if request.method == "POST" else None
        if decision not in ("approve", "deny"):
            ticket = ctx.store.new_consent_ticket(binding, CONSENT_TICKET_LIFETIME_S)
            return render_template(
                "test_ehr/consent.html",
                client_name=grant.request.client.registered.name,
                scopes=allowed,
                params=_oauth_params(),
                patient=context.patient,
                ticket=ticket,
                user=user,
            )
        if not ctx.store.use_consent_ticket(request.form.get("ehr_ticket", ""), binding):
            return error_page(400, "This consent form has expired or was already used.")
        if decision == "deny":
            return server.create_authorization_response(grant_user=None, grant=grant)
        chosen = set(request.form.getlist("ehr_scope"))
        granted = " ".join(s for s in allowed if s in chosen)
        return server.create_authorization_response(
            grant_user=GrantDecision(user, context, granted), grant=grant
        )

    @bp.post("/auth/token")
    def token() -> Response:
        response: Response = server.create_token_response()
        return response

    @bp.get("/auth/jwks")
    def jwks() -> Response:
        document = KeySet([ctx.id_token_key]).as_dict(private=False)
        response = jsonify(document)
        response.headers["Cache-Control"] = "max-age=300"
        return response

    @bp.get("/auth/.well-known/openid-configuration")
    def openid_config() -> Response:
        return jsonify(openid_configuration(ctx.settings, EhrUrls.current()))

    return bp
