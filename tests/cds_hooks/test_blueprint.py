"""The blueprint's HTTP translation with Flask's test client (no network): size limit,
error bodies, audience URL, CORS policy."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Flask

from cds_hooks import cards
from cds_hooks.blueprint import CorsPolicy, create_cds_blueprint
from cds_hooks.errors import CdsAuthError
from cds_hooks.models import CdsRequest, CdsResponse
from cds_hooks.prefetch import PrefetchData
from cds_hooks.security import VerifiedClient
from cds_hooks.service import CdsService, FunctionHandler, InMemoryFeedbackStore, ServiceBinding


class RecordingAuth:
    def __init__(self, fail_with: Exception | None = None) -> None:
        self.audiences: list[str] = []
        self.fail_with = fail_with

    def authenticate(self, authorization: str | None, audience: str) -> VerifiedClient:
        self.audiences.append(audience)
        if self.fail_with is not None:
            raise self.fail_with
        if authorization != "Bearer ok":
            raise CdsAuthError("bearer token required")
        return VerifiedClient(iss="i", kid="k", alg="ES384", jti="j", expires_at=0)


def _hello(request: CdsRequest, data: PrefetchData) -> CdsResponse:
    return CdsResponse(cards=[cards.card("k", "hello", "info", cards.source("s"))])


def _app(auth: RecordingAuth, **kwargs: Any) -> Flask:
    service = CdsService(id="svc", hook="patient-view", description="d")
    app = Flask(__name__)
    bp = create_cds_blueprint(
        [ServiceBinding(service, FunctionHandler(_hello))],
        InMemoryFeedbackStore(),
        auth,
        None,
        **kwargs,
    )
    app.register_blueprint(bp, url_prefix="/api")
    return app


BODY = {
    "hook": "patient-view",
    "hookInstance": str(uuid.uuid4()),
    "context": {"userId": "Practitioner/1", "patientId": "1"},
}
AUTH = {"Authorization": "Bearer ok"}


def test_call_and_audience_without_and_with_public_base_url() -> None:
    auth = RecordingAuth()
    client = _app(auth).test_client()
    r = client.post("/api/cds-services/svc", json=BODY, headers=AUTH)
    assert r.status_code == 200 and r.json == {"cards": [_hello_card()]}
    assert auth.audiences == ["http://localhost/api/cds-services/svc"]
    proxied = RecordingAuth()
    client = _app(proxied, public_base_url="https://cds.example.org/x/").test_client()
    client.post("/api/cds-services/svc/feedback", json={"feedback": []}, headers=AUTH)
    client.get("/api/cds-services", headers=AUTH)
    assert proxied.audiences == [
        "https://cds.example.org/x/cds-services/svc/feedback",
        "https://cds.example.org/x/cds-services",
    ]


def _hello_card() -> dict[str, Any]:
    return cards.card("k", "hello", "info", cards.source("s")).to_json()


def test_oversized_bodies_are_413() -> None:
    client = _app(RecordingAuth(), max_body_bytes=100).test_client()
    big = {**BODY, "context": {**BODY["context"], "pad": "x" * 200}}
    r = client.post("/api/cds-services/svc", json=big, headers=AUTH)
    assert r.status_code == 413
    assert r.json is not None and r.json["issue"][0]["details"]["text"] == "request body too large"


def test_an_unexpected_error_in_the_edge_is_a_plain_500() -> None:
    client = _app(RecordingAuth(fail_with=RuntimeError("token=abc"))).test_client()
    r = client.post("/api/cds-services/svc", json=BODY, headers=AUTH)
    assert r.status_code == 500
    assert "abc" not in r.get_data(as_text=True)
    assert r.json is not None and r.json["issue"][0]["details"]["text"] == "internal error"


def test_cors_any_origin_and_no_origin() -> None:
    client = _app(RecordingAuth(), cors=CorsPolicy(allowed_origins=frozenset({"*"}))).test_client()
    r = client.options("/api/cds-services/svc", headers={"Origin": "https://a.example"})
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    plain = _app(RecordingAuth()).test_client()
    r = plain.post("/api/cds-services/svc", json=BODY, headers={**AUTH, "Origin": "https://a.x"})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers


def test_error_bodies_are_operation_outcomes() -> None:
    client = _app(RecordingAuth()).test_client()
    r = client.post("/api/cds-services/svc", data=json.dumps(BODY), content_type="application/json")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="cds-services"'
    assert r.json == {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "code": "login", "details": {"text": "bearer token required"}}
        ],
    }
