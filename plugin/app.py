"""Flask application factory: nothing is created at import time; services live on
`app.extensions["deepdr"]` (a `Services`); tests build a fresh app each.

    app = create_app(load_settings("deepdr.toml").settings)
    ...
    services_of(app).close()      # or let the app be collected / the process exit

What runs where: create_app opens and migrates the store and starts in-process job workers
(when `jobs.in_process_workers` and a handler exists). Under gunicorn each worker process
builds its own app after the fork (no preload), so no thread or connection crosses a fork.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from plugin.config import Settings
from plugin.config_loader import settings_from_mapping
from plugin.services import Services, build_services
from plugin.web.blueprints import BLUEPRINT_FACTORIES, BlueprintFactory, register_blueprints
from plugin.web.context import EXTENSION_KEY, services_of
from plugin.web.errors import install_error_handlers
from plugin.web.request_context import install_request_hooks
from plugin.web.security import install_security_headers

__all__ = ["create_app", "services_of"]


def create_app(
    config: Settings | Mapping[str, Any] | None = None,
    *,
    services: Services | None = None,
    blueprints: Sequence[str | BlueprintFactory] | None = None,
    start_workers: bool = True,
) -> Flask:
    """`config`: Settings, or a mapping validated like a config file (ConfigError on a
    problem). `services`: prebuilt ones (their settings win). `blueprints`: factories to
    register instead of BLUEPRINT_FACTORIES (tests add their own views this way)."""
    owned = services is None
    if services is None:
        settings = config if isinstance(config, Settings) else settings_from_mapping(config or {})
        services = build_services(settings)
    settings = services.settings
    app = Flask("plugin")
    app.config["MAX_CONTENT_LENGTH"] = settings.server.max_request_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if settings.server.trusted_proxy_count:
        n = settings.server.trusted_proxy_count
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n
        )
    app.extensions[EXTENSION_KEY] = services
    install_request_hooks(app, services.metrics)
    install_security_headers(app, settings.server)
    install_error_handlers(app, services.metrics)
    register_blueprints(app, services, BLUEPRINT_FACTORIES if blueprints is None else blueprints)
    if start_workers:
        services.start_workers()
    if owned:  # threads and connections end with the app (at interpreter exit at the latest)
        weakref.finalize(app, services.close)
    return app
