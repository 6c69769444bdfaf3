"""create_app: services built once and closed, request ids, typed errors as JSON bodies
(never a stack trace), security headers for an EHR iframe, the blueprint registry."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask, request

from plugin.app import create_app, services_of
from plugin.config_loader import ConfigError, settings_from_mapping
from plugin.fhir.errors import FhirTimeout
from plugin.jobs.registry import Progress
from plugin.services import Services, build_services
from plugin.store.errors import StoreUnavailable
from plugin.web.blueprints import BLUEPRINT_FACTORIES
from plugin.web.errors import NotFoundProblem

AppFactory = Callable[..., Flask]


def failing_views(services: Services) -> Blueprint:
    bp = Blueprint("failing", __name__)

    @bp.get("/things/<thing_id>")
    def thing(thing_id: str) -> dict[str, str]:
        if thing_id == "missing":
            raise NotFoundProblem("no such thing")
        if thing_id == "store-down":
            raise StoreUnavailable("connection refused to db.internal:5432 password=hunter2")
        if thing_id == "crash":
            raise RuntimeError("patient Zebedee Quartermain broke it")
        return {"thing": thing_id}

    @bp.get("/fhir/Patient/<pid>")
    def fhir_read(pid: str) -> dict[str, str]:
        raise FhirTimeout("FHIR server did not answer in time")

    @bp.post("/things")
    def post() -> dict[str, str]:
        return {"size": str(len(request.get_data()))}

    return bp


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[AppFactory]:
    built: list[Flask] = []

    def make(config: dict[str, Any] | None = None, **kwargs: Any) -> Flask:
        config = dict(config or {})
        config.setdefault("store", {"url": f"sqlite:///{tmp_path}/app.sqlite3"})
        blueprints = kwargs.pop("blueprints", [*BLUEPRINT_FACTORIES, failing_views])
        app = create_app(config, blueprints=blueprints, **kwargs)
        built.append(app)
        return app

    yield make
    for app in built:
        services_of(app).close()


def test_services_are_built_once_and_put_on_extensions(make_app: AppFactory) -> None:
    app = make_app({"server": {"port": 9999}})
    services = services_of(app)
    assert isinstance(services, Services)
    assert services.settings.server.port == 9999
    assert services.readiness.names == ("store", "grader")  # no FHIR server configured
    assert services.store.jobs.count_by_status()  # migrated: the jobs table exists


def test_invalid_mapping_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        create_app({"server": {"workers": "lots"}})
    assert exc.value.problems[0].startswith("server.workers: Input should be a valid integer")


def test_request_id_is_accepted_when_sane_else_generated(make_app: AppFactory) -> None:
    client = make_app().test_client()
    given = client.get("/healthz", headers={"X-Request-ID": "ehr-req.42:abc"})
    assert given.headers["X-Request-ID"] == "ehr-req.42:abc"
    for bad in ("has spaces in it", "x" * 200, "inject\u2028line", ""):
        response = client.get("/healthz", headers={"X-Request-ID": bad})
        generated = response.headers["X-Request-ID"]
        assert generated != bad and len(generated) == 32
    first = client.get("/healthz").headers["X-Request-ID"]
    assert first != client.get("/healthz").headers["X-Request-ID"]


def test_typed_problem_becomes_problem_json(make_app: AppFactory) -> None:
    response = make_app().test_client().get("/things/missing", headers={"X-Request-ID": "r-1"})
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Not found",
        "status": 404,
        "detail": "no such thing",
        "request_id": "r-1",
    }


def test_lower_layer_errors_map_to_safe_statuses(make_app: AppFactory) -> None:
    client = make_app().test_client()
    down = client.get("/things/store-down")
    assert down.status_code == 503
    assert down.get_json()["detail"] == "storage unavailable"
    assert b"hunter2" not in down.data and b"db.internal" not in down.data
    fhir = client.get("/fhir/Patient/123", headers={"X-Request-ID": "r-2"})
    assert fhir.status_code == 504
    assert fhir.mimetype == "application/fhir+json"
    assert fhir.get_json() == {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "timeout",
                "details": {"text": "FHIR server did not answer in time (request id r-2)"},
            }
        ],
    }


def test_unexpected_error_is_a_generic_500_with_the_request_id(make_app: AppFactory) -> None:
    response = make_app().test_client().get("/things/crash", headers={"X-Request-ID": "r-3"})
    assert response.status_code == 500
    body = response.get_json()
    assert body["detail"] == "internal error; quote the request id if reporting"
    assert body["request_id"] == "r-3"
    assert b"Zebedee" not in response.data and b"Traceback" not in response.data


def test_http_errors_are_json_and_fhir_routes_get_operation_outcomes(
    make_app: AppFactory,
) -> None:
    client = make_app().test_client()
    missing = client.get("/no/such/route")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    wrong_method = client.delete("/things")
    assert wrong_method.status_code == 405
    assert set(wrong_method.headers["Allow"].split(", ")) >= {"POST"}
    fhir_missing = client.get("/fhir/Nope/1/extra")
    assert fhir_missing.get_json()["resourceType"] == "OperationOutcome"
    assert fhir_missing.get_json()["issue"][0]["code"] == "not-found"
    accept_fhir = client.get("/no/such/route", headers={"Accept": "application/fhir+json"})
    assert accept_fhir.mimetype == "application/fhir+json"


def test_request_body_limit(make_app: AppFactory) -> None:
    client = make_app({"server": {"max_request_bytes": 100}}).test_client()
    assert client.post("/things", data=b"x" * 100, content_type="text/plain").status_code == 200
    response = client.post("/things", data=b"x" * 500, content_type="text/plain")
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"


def test_security_headers_allow_configured_ehr_frames(make_app: AppFactory) -> None:
    app = make_app({"server": {"frame_ancestors": ["'self'", "https://ehr.example.org"]}})
    headers = app.test_client().get("/healthz").headers
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://ehr.example.org" in csp
    assert "default-src 'self'" in csp and "object-src 'none'" in csp
    assert "X-Frame-Options" not in headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in headers  # plain http on loopback
    https = make_app({"server": {"public_base_url": "https://deepdr.example.org"}})
    assert "Strict-Transport-Security" in https.test_client().get("/healthz").headers


def test_blueprint_registry_takes_factories_and_skips_none(make_app: AppFactory) -> None:
    def disabled(services: Services) -> None:
        return None

    app = make_app(blueprints=[disabled, failing_views])
    assert set(app.blueprints) == {"failing"}
    assert app.test_client().get("/healthz").status_code == 404
    default = make_app(blueprints=None)
    assert "observability" in default.blueprints


def test_metrics_endpoint_can_be_turned_off(make_app: AppFactory) -> None:
    app = make_app({"metrics": {"enabled": False}})
    assert app.test_client().get("/metrics").status_code == 404


def test_in_process_workers_run_jobs_and_stop_on_close(tmp_path: Path) -> None:
    settings = settings_from_mapping(
        {
            "store": {"url": f"sqlite:///{tmp_path}/jobs.sqlite3"},
            "jobs": {"worker_threads": 1, "poll_interval_s": 0.05},
        }
    )
    services = build_services(settings)
    done = threading.Event()

    def handler(payload: dict[str, Any], progress: Progress) -> dict[str, Any]:
        progress(50, "halfway")
        done.set()
        return {"echo": payload["n"]}

    services.handlers.register("echo", handler)
    app = create_app(services=services, blueprints=[])
    assert services_of(app) is services and services.worker is not None
    job = services.queue.enqueue("echo", {"n": 7}, idempotency_key="echo-7")
    assert done.wait(30)
    for _ in range(200):
        status = services.queue.status(job.id)
        if status is not None and status.status.value == "succeeded":
            break
        threading.Event().wait(0.05)
    assert status is not None and status.result == {"echo": 7}
    worker = services.worker
    assert worker is not None
    # This worker's threads only: other tests' apps may still be running theirs.
    threads = list(worker._threads)
    assert threads and all(t.is_alive() for t in threads)
    services.close()
    assert services.closed and services.worker is None
    assert not worker.running_jobs
    assert not [t for t in threads if t.is_alive()]
    services.close()  # idempotent


def test_workers_are_not_started_when_disabled_or_without_handlers(
    make_app: AppFactory,
) -> None:
    assert services_of(make_app()).worker is None  # no handlers registered
    app = make_app({"jobs": {"in_process_workers": False}}, start_workers=True)
    services = services_of(app)
    services.handlers.register("noop", lambda payload, progress: None)
    assert services.start_workers() is None
