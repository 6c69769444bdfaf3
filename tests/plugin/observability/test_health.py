"""/healthz and /readyz: per-check JSON, 200 when every check passes, 503 otherwise."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from plugin.app import services_of
from plugin.observability.health import Check, CheckResult, Readiness

AppFactory = Callable[..., Flask]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_healthz_answers_without_touching_dependencies(make_app: AppFactory) -> None:
    app = make_app({"fhir": {"base_url": f"http://127.0.0.1:{free_port()}/fhir"}})
    response = app.test_client().get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


@pytest.mark.integration
def test_readyz_200_when_store_bundle_and_fhir_server_are_fine(
    make_app: AppFactory, bundle_dir: Path, fhir_base_url: str
) -> None:
    app = make_app({"grader": {"bundle": str(bundle_dir)}, "fhir": {"base_url": fhir_base_url}})
    response = app.test_client().get("/readyz")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "ready"
    checks = body["checks"]
    assert set(checks) == {"store", "grader", "fhir"}
    assert checks["store"]["detail"] == "writable"
    assert checks["grader"]["detail"] == "test-grader 0.1"
    assert checks["fhir"]["ok"] is True and checks["fhir"]["detail"].startswith("reachable")


def test_readyz_503_when_fhir_server_unreachable(make_app: AppFactory, bundle_dir: Path) -> None:
    base = f"http://127.0.0.1:{free_port()}/fhir/R4"
    app = make_app({"grader": {"bundle": str(bundle_dir)}, "fhir": {"base_url": base}})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["store"]["ok"] and checks["grader"]["ok"]
    assert checks["fhir"] == {
        "ok": False,
        "detail": "check failed (FhirUnavailable)",
        "duration_ms": checks["fhir"]["duration_ms"],
        "cached": False,
    }
    again = app.test_client().get("/readyz").get_json()["checks"]["fhir"]
    assert again["cached"] is True  # a polling load balancer does not hammer the server


def test_readyz_503_without_a_model_bundle(make_app: AppFactory, tmp_path: Path) -> None:
    app = make_app({"grader": {"bundle": str(tmp_path / "absent")}})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["grader"] == {
        "ok": False,
        "detail": "model bundle folder 'absent' not found",
        "duration_ms": response.get_json()["checks"]["grader"]["duration_ms"],
        "cached": False,
    }


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        (
            lambda meta, folder: meta.pop("outputs"),
            "model bundle 'bundle-test-0.1': metadata.json outputs: Field required",
        ),
        (
            lambda meta, folder: meta["outputs"][0].update(shape=["batch", 4]),
            "model bundle 'bundle-test-0.1': metadata.json metadata: "
            "Value error, grade_probs width must match labels.grade",
        ),
        (
            lambda meta, folder: (folder / "model.onnx").unlink(),
            "model bundle 'bundle-test-0.1' lacks model.onnx",
        ),
    ],
)
def test_readyz_503_with_an_invalid_model_bundle(
    make_app: AppFactory,
    bundle_dir: Path,
    change: Callable[[dict[str, Any], Path], object],
    detail: str,
) -> None:
    meta = json.loads((bundle_dir / "metadata.json").read_text(encoding="utf-8"))
    change(meta, bundle_dir)
    (bundle_dir / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    response = make_app({"grader": {"bundle": str(bundle_dir)}}).test_client().get("/readyz")
    assert response.status_code == 503
    grader = response.get_json()["checks"]["grader"]
    assert (grader["ok"], grader["detail"]) == (False, detail)


def test_readyz_503_when_the_store_fails(make_app: AppFactory, bundle_dir: Path) -> None:
    app = make_app({"grader": {"bundle": str(bundle_dir)}})
    services = services_of(app)
    with services.store.db.transaction() as tx:
        tx.execute("DELETE FROM schema_version")
    store = app.test_client().get("/readyz").get_json()["checks"]["store"]
    assert (store["ok"], store["detail"]) == (False, "schema not migrated")
    services.store.db.close()
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["store"]["detail"].startswith("check failed (")


def test_check_results_are_cached_for_their_ttl() -> None:
    calls = []
    now = [100.0]

    def probe() -> CheckResult:
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionError("server said: patient 123 not allowed")
        return CheckResult(True, "fine")

    check = Check("dep", probe, cache_s=5.0)
    assert check.run(lambda: now[0]).cached is False
    assert check.run(lambda: now[0]).cached is True
    now[0] += 6
    failed = check.run(lambda: now[0])
    assert (failed.ok, failed.detail) == (False, "check failed (ConnectionError)")
    assert len(calls) == 2
    readiness = Readiness([check])
    with pytest.raises(ValueError):
        readiness.add(Check("dep", probe))


class _V2Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path == "/v2/models/dr-grader/ready" else 503
        body = json.dumps({"ready": status == 200}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def v2_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _V2Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_remote_grader_readiness_uses_the_kserve_v2_ready_endpoint(
    make_app: AppFactory, v2_server: str, bundle_dir: Path
) -> None:
    (bundle_dir / "model.onnx").unlink()  # a remote grader's bundle may be metadata alone
    remote = {"kind": "kserve-v2", "url": v2_server, "model_name": "dr-grader"}
    ready = make_app({"grader": {"bundle": str(bundle_dir), "remote": remote}})
    grader = ready.test_client().get("/readyz").get_json()["checks"]["grader"]
    assert (grader["ok"], grader["detail"]) == (True, "remote model dr-grader ready")
    metadata = (bundle_dir / "metadata.json").read_text(encoding="utf-8")
    (bundle_dir / "metadata.json").write_text("{", encoding="utf-8")
    no_metadata = make_app({"grader": {"bundle": str(bundle_dir), "remote": remote}})
    grader = no_metadata.test_client().get("/readyz").get_json()["checks"]["grader"]
    assert (grader["ok"], grader["detail"]) == (
        False,
        "model bundle 'bundle-test-0.1': metadata.json is not readable JSON",
    )
    (bundle_dir / "metadata.json").write_text(metadata, encoding="utf-8")
    not_ready = make_app(
        {
            "grader": {
                "bundle": str(bundle_dir),
                "remote": remote | {"model_name": "other"},
            }
        }
    )
    response = not_ready.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["grader"]["detail"] == (
        "remote model other not ready (HTTP 503)"
    )
