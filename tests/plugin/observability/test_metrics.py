"""/metrics scraped after some requests and parsed as Prometheus text exposition."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Blueprint, Flask
from prometheus_client.parser import text_string_to_metric_families

from plugin.app import services_of
from plugin.services import Services
from plugin.web.blueprints import BLUEPRINT_FACTORIES
from plugin.web.errors import BadRequestProblem

AppFactory = Callable[..., Flask]


def sample_views(services: Services) -> Blueprint:
    bp = Blueprint("samples", __name__)

    @bp.get("/items/<item_id>")
    def item(item_id: str) -> dict[str, str]:
        if item_id == "bad":
            raise BadRequestProblem("bad item")
        with services.metrics.time_grading("test-grader-0.1"):
            pass
        return {"id": item_id}

    return bp


def scrape(app: Flask) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Sample name -> {sorted labels: value}."""
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_request_latency_is_labelled_by_route_template(make_app: AppFactory) -> None:
    app = make_app(blueprints=[*BLUEPRINT_FACTORIES, sample_views])
    client = app.test_client()
    for item_id in ("Patient-123", "Patient-456", "bad"):
        client.get(f"/items/{item_id}?patient=Patient/123")
    client.get("/nowhere/789")
    samples = scrape(app)
    counts = samples["deepdr_http_request_duration_seconds_count"]
    ok = (("method", "GET"), ("route", "/items/<item_id>"), ("status", "200"))
    bad = (("method", "GET"), ("route", "/items/<item_id>"), ("status", "400"))
    unmatched = (("method", "GET"), ("route", "<unmatched>"), ("status", "404"))
    assert counts[ok] == 2 and counts[bad] == 1 and counts[unmatched] == 1
    assert not any("123" in value for labels in counts for _, value in labels)
    buckets = samples["deepdr_http_request_duration_seconds_bucket"]
    assert buckets[(("le", "+Inf"), *ok)] == 2
    errors = samples["deepdr_errors_total"]
    assert errors[(("type", "BadRequestProblem"), ("where", "http"))] == 1
    assert errors[(("type", "http_404"), ("where", "http"))] == 1
    grading = samples["deepdr_grading_duration_seconds_count"]
    assert grading[(("model", "test-grader-0.1"), ("outcome", "ok"))] == 2


def test_grading_timer_records_failures_by_type(make_app: AppFactory) -> None:
    app = make_app()
    metrics = services_of(app).metrics
    with pytest.raises(ValueError), metrics.time_grading("m-1"):
        raise ValueError("corrupt image")
    metrics.observe_grading("m-1", 0.2)
    grading = scrape(app)["deepdr_grading_duration_seconds_count"]
    assert grading[(("model", "m-1"), ("outcome", "ValueError"))] == 1
    assert grading[(("model", "m-1"), ("outcome", "ok"))] == 1


def test_queue_depth_is_read_from_the_store_at_scrape_time(make_app: AppFactory) -> None:
    app = make_app({"jobs": {"in_process_workers": False}})
    services = services_of(app)
    services.handlers.register("noop", lambda payload, progress: None)
    depth = scrape(app)["deepdr_job_queue_depth"]
    assert depth[(("status", "queued"),)] == 0
    for n in range(3):
        services.queue.enqueue("noop", {"n": n}, idempotency_key=f"noop-{n}")
    depth = scrape(app)["deepdr_job_queue_depth"]
    assert depth[(("status", "queued"),)] == 3
    assert depth[(("status", "running"),)] == 0


def test_each_app_has_its_own_registry(make_app: AppFactory) -> None:
    first, second = make_app(), make_app()
    first.test_client().get("/healthz")

    def routes(app: Flask) -> set[str]:
        counts = scrape(app).get("deepdr_http_request_duration_seconds_count", {})
        return {dict(labels)["route"] for labels in counts}

    assert "/healthz" in routes(first)
    assert "/healthz" not in routes(second)
