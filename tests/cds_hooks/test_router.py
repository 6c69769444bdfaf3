"""CdsHooksRouter without HTTP: order of checks, handler errors, response checking."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from cds_hooks import cards
from cds_hooks.errors import (
    CdsAuthError,
    CdsError,
    CdsServiceError,
    InvalidServiceResponse,
    MalformedRequest,
    PrefetchUnavailable,
    UnknownService,
)
from cds_hooks.models import Card, CdsRequest, CdsResponse, Source
from cds_hooks.prefetch import PrefetchData, PrefetchResolver
from cds_hooks.router import CdsHooksRouter, IncomingCall
from cds_hooks.security import VerifiedClient
from cds_hooks.service import (
    CdsService,
    FunctionHandler,
    InMemoryFeedbackStore,
    ServiceBinding,
)

OK = IncomingCall(url="https://cds.example.org/cds-services/svc", authorization="Bearer ok")


class FakeAuth:
    def __init__(self) -> None:
        self.audiences: list[str] = []

    def authenticate(self, authorization: str | None, audience: str) -> VerifiedClient:
        self.audiences.append(audience)
        if authorization != "Bearer ok":
            raise CdsAuthError("bearer token required")
        return VerifiedClient(iss="https://ehr", kid="k", alg="ES384", jti="j", expires_at=0)


SERVICE = CdsService(
    id="svc",
    hook="patient-view",
    description="d",
    prefetch={"patient": "Patient/{{context.patientId}}"},
    required_prefetch=frozenset({"patient"}),
)


def _body(**fields: Any) -> bytes:
    doc = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/u", "patientId": "p"},
        "prefetch": {"patient": {"resourceType": "Patient", "id": "p"}},
        **fields,
    }
    return json.dumps(doc).encode()


def _router(handler: Any, auth: FakeAuth | None = None, **kwargs: Any) -> CdsHooksRouter:
    return CdsHooksRouter(
        [ServiceBinding(SERVICE, handler)],
        authenticator=auth or FakeAuth(),
        resolver=PrefetchResolver(None),
        feedback_store=InMemoryFeedbackStore(),
        **kwargs,
    )


def _greeting(request: CdsRequest, data: PrefetchData) -> CdsResponse:
    patient = data.resources("patient")[0]
    return CdsResponse(
        cards=[cards.card(patient["id"], f"Hello {patient['id']}", "info", cards.source("x"))]
    )


def test_a_call_reaches_the_handler_with_resolved_prefetch() -> None:
    response = _router(FunctionHandler(_greeting)).call_service(OK, "svc", lambda: _body())
    assert response.cards[0].summary == "Hello p"


def test_auth_comes_first_and_unauthenticated_bodies_are_never_read() -> None:
    read: list[bool] = []

    def body() -> bytes:
        read.append(True)
        return b"{}"

    router = _router(FunctionHandler(_greeting))
    anonymous = IncomingCall(url=OK.url, authorization=None)
    with pytest.raises(CdsAuthError):
        router.call_service(anonymous, "nope", body)
    with pytest.raises(UnknownService):
        router.call_service(OK, "nope", body)
    with pytest.raises(CdsAuthError):
        router.feedback(anonymous, "svc", body)
    assert read == []


def test_discovery_auth_is_configurable() -> None:
    anonymous = IncomingCall(url="https://cds.example.org/cds-services", authorization=None)
    with pytest.raises(CdsAuthError):
        _router(FunctionHandler(_greeting)).discovery(anonymous)
    open_router = _router(FunctionHandler(_greeting), require_auth_for_discovery=False)
    assert [s.id for s in open_router.discovery(anonymous).services] == ["svc"]


def test_the_audience_checked_is_the_url_called() -> None:
    auth = FakeAuth()
    _router(FunctionHandler(_greeting), auth).call_service(OK, "svc", lambda: _body())
    assert auth.audiences == [OK.url]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"\xff\xfe", MalformedRequest),
        (_body(hook="order-sign"), MalformedRequest),
        (_body(context={"userId": "Practitioner/u"}), MalformedRequest),
        (_body(prefetch={}), PrefetchUnavailable),
    ],
)
def test_bad_calls(body: bytes, error: type[CdsError]) -> None:
    with pytest.raises(error):
        _router(FunctionHandler(_greeting)).call_service(OK, "svc", lambda: body)


def test_handler_errors(caplog: pytest.LogCaptureFixture) -> None:
    def typed(request: CdsRequest, data: PrefetchData) -> CdsResponse:
        raise CdsServiceError("model unavailable", http_status=503, issue_code="transient")

    with pytest.raises(CdsServiceError) as info:
        _router(FunctionHandler(typed)).call_service(OK, "svc", lambda: _body())
    assert info.value.http_status == 503

    def crash(request: CdsRequest, data: PrefetchData) -> CdsResponse:
        raise KeyError(f"{request.context['patientId']}-secret-value")

    with pytest.raises(CdsError) as crashed:
        _router(FunctionHandler(crash)).call_service(OK, "svc", lambda: _body())
    assert crashed.value.http_status == 500
    assert "secret" not in crashed.value.reason
    assert "KeyError (message withheld)" in caplog.text and "in crash" in caplog.text
    assert "p-secret-value" not in caplog.text  # frames are logged, runtime values not


def test_a_response_breaking_the_rules_never_leaves() -> None:
    def sloppy(request: CdsRequest, data: PrefetchData) -> CdsResponse:
        # model_construct skips validation, as a careless handler might
        card = Card.model_construct(summary="x" * 200, indicator="info", source=Source(label="s"))
        return CdsResponse.model_construct(cards=[card])

    with pytest.raises(InvalidServiceResponse):
        _router(FunctionHandler(sloppy)).call_service(OK, "svc", lambda: _body())


def test_feedback_counts_new_items() -> None:
    store = InMemoryFeedbackStore()
    router = CdsHooksRouter(
        [ServiceBinding(SERVICE, FunctionHandler(_greeting))],
        authenticator=FakeAuth(),
        resolver=PrefetchResolver(None),
        feedback_store=store,
    )
    item = {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2024-01-01T00:00:00Z"}
    body = json.dumps({"feedback": [item, item]}).encode()
    receipt = router.feedback(OK, "svc", lambda: body)
    assert receipt.to_json() == {"received": 2, "stored": 1}
    assert [(f.service_id, f.card, f.issuer) for f in store.all()] == [("svc", "c", "https://ehr")]


def test_one_id_may_serve_several_hooks_but_not_one_hook_twice() -> None:
    order = CdsService(id="svc", hook="order-sign", description="d")
    handler = FunctionHandler(_greeting)
    router = CdsHooksRouter(
        [ServiceBinding(SERVICE, handler), ServiceBinding(order, handler)],
        authenticator=FakeAuth(),
        resolver=PrefetchResolver(None),
        feedback_store=InMemoryFeedbackStore(),
    )
    assert router.service_ids() == {"svc"}
    with pytest.raises(ValueError, match="twice"):
        CdsHooksRouter(
            [ServiceBinding(SERVICE, handler), ServiceBinding(SERVICE, handler)],
            authenticator=FakeAuth(),
            resolver=PrefetchResolver(None),
            feedback_store=InMemoryFeedbackStore(),
        )


ODD_VALUES: list[Any] = [None, 0, True, "x", "", [], {}, [None], {"resourceType": 1}, ["a"]]


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _paths(value, (*prefix, i))
    return out


def _replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    copy = json.loads(json.dumps(doc))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return copy


def test_any_odd_value_anywhere_gives_a_typed_error_or_an_answer() -> None:
    """Every field of a valid request, replaced by each odd JSON value: the router either
    answers or raises a CdsError (a 4xx/5xx with a short reason), never anything else."""
    base = json.loads(_body(fhirServer="https://ehr.example.org/fhir"))
    router = _router(FunctionHandler(lambda request, data: CdsResponse(cards=[])))
    outcomes: set[str] = set()
    for path in _paths(base):
        for value in ODD_VALUES:
            body = json.dumps(_replaced(base, path, value)).encode()
            try:
                router.call_service(OK, "svc", lambda body=body: body)
                outcomes.add("200")
            except CdsError as exc:
                assert exc.http_status in (400, 412), (path, value, exc.reason)
                outcomes.add(str(exc.http_status))
    assert outcomes == {"200", "400", "412"}
