"""Per-request plumbing: a request id on every request, log line and response, and one
latency sample and log line per request, keyed by the route template (never the raw path
or query string, which carry patient ids)."""

from __future__ import annotations

import logging
import re
import uuid
from time import perf_counter

from flask import Flask, Response, g, request

from plugin.observability.logging import bind_request_id, unbind_request_id
from plugin.observability.metrics import Metrics

log = logging.getLogger("deepdr.http")

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
UNMATCHED_ROUTE = "<unmatched>"
# Polled constantly by orchestrators and scrapers: logged at DEBUG, still measured.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


def incoming_request_id(value: str | None) -> str:
    """The caller's X-Request-ID when it is a plain token of sane length, else a new one
    (a free-text header could smuggle PHI or log-injection into every log line)."""
    if value and _SANE_REQUEST_ID.match(value):
        return value
    return uuid.uuid4().hex


def route_template() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED_ROUTE


def install_request_hooks(app: Flask, metrics: Metrics) -> None:
    @app.before_request
    def start() -> None:
        g.deepdr_started = perf_counter()
        g.request_id = incoming_request_id(request.headers.get(REQUEST_ID_HEADER))
        g.deepdr_log_token = bind_request_id(g.request_id)

    @app.after_request
    def finish(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("deepdr_started")
        if started is None:
            return response
        seconds = perf_counter() - started
        route = route_template()
        metrics.observe_request(route, request.method, response.status_code, seconds)
        level = (
            logging.DEBUG
            if route in QUIET_ROUTES and response.status_code < 400
            else (logging.INFO)
        )
        log.log(
            level,
            "request",
            extra={
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 2),
            },
        )
        return response

    @app.teardown_request
    def unbind(exc: BaseException | None) -> None:
        token = g.pop("deepdr_log_token", None)
        if token is not None:
            unbind_request_id(token)
