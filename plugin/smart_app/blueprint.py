"""Blueprint factory of the SMART review app (registered through plugin.web.blueprints):
None when `smart.client_id` is not configured."""

from __future__ import annotations

from flask import Blueprint

from plugin.services import Services
from plugin.smart_app.runtime import smart_runtime
from plugin.smart_app.views_launch import register_launch_routes
from plugin.smart_app.views_review import register_review_routes
from plugin.smart_app.views_signoff import register_signoff_routes


def create_smart_app_blueprint(services: Services) -> Blueprint | None:
    runtime = smart_runtime(services)
    if runtime is None:
        return None
    bp = Blueprint(
        "smart_app",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/smart/static",
    )
    register_launch_routes(bp, services, runtime)
    register_review_routes(bp, services, runtime)
    register_signoff_routes(bp, services, runtime)
    return bp
