"""GET /healthz (the process answers), GET /readyz (it can do its work: per-check JSON,
200 or 503), GET /metrics (Prometheus text exposition, when metrics are enabled)."""

from __future__ import annotations

import json

from flask import Blueprint, Response

from plugin.observability.metrics import CONTENT_TYPE
from plugin.services import Services


def create_observability_blueprint(services: Services) -> Blueprint:
    bp = Blueprint("observability", __name__)

    @bp.get("/healthz")
    def healthz() -> Response:
        return _json({"status": "ok"}, 200)

    @bp.get("/readyz")
    def readyz() -> Response:
        report = services.readiness.run()
        return _json(report.to_json(), 200 if report.ready else 503)

    if services.settings.metrics.enabled:

        @bp.get("/metrics")
        def metrics() -> Response:
            return Response(services.metrics.render(), status=200, content_type=CONTENT_TYPE)

    return bp


def _json(body: object, status: int) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")
