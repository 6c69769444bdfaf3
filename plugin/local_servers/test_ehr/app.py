"""Flask factory of the test EHR. Nothing is created at import time; each call builds a fresh
EHR (its own keys, store and client registry)."""

from __future__ import annotations

import logging

import httpx
from flask import Flask
from joserfc.jwk import RSAKey

from plugin.local_servers.test_ehr.auth_views import create_auth_blueprint
from plugin.local_servers.test_ehr.clients import ClientRegistry
from plugin.local_servers.test_ehr.config import TestEhrSettings
from plugin.local_servers.test_ehr.ehr_views import create_ehr_blueprint
from plugin.local_servers.test_ehr.oauth import EhrContext, build_authorization_server
from plugin.local_servers.test_ehr.proxy import create_fhir_proxy_blueprint
from plugin.local_servers.test_ehr.store import EhrStore


def _id_token_key() -> RSAKey:
    key = RSAKey.generate_key(2048)
    return RSAKey.import_key(
        key.as_dict(private=True), {"kid": key.thumbprint(), "alg": "RS256", "use": "sig"}
    )


def create_test_ehr_app(settings: TestEhrSettings, *, http: httpx.Client | None = None) -> Flask:
    # authlib logs issued token dicts at DEBUG ("Issue token ..."): never let them reach a log.
    logging.getLogger("authlib").setLevel(max(logging.INFO, logging.getLogger("authlib").level))
    client = http or httpx.Client(timeout=settings.upstream_timeout_s, follow_redirects=False)
    ctx = EhrContext(
        settings=settings,
        store=EhrStore(),
        registry=ClientRegistry(settings.clients, client),
        id_token_key=_id_token_key(),
    )
    server = build_authorization_server(ctx)
    app = Flask(__name__)
    app.extensions["test_ehr"] = {"ctx": ctx, "server": server, "http": client}
    app.register_blueprint(create_ehr_blueprint(ctx, client))
    app.register_blueprint(create_auth_blueprint(ctx, server, client))
    app.register_blueprint(create_fhir_proxy_blueprint(ctx, client))
    return app
