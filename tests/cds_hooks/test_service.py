"""CdsService definitions are checked at construction; discovery output per spec."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cds_hooks.models import Feedback
from cds_hooks.service import CdsService, InMemoryFeedbackStore, feedback_identity


def test_descriptor_has_the_discovery_fields_only() -> None:
    service = CdsService(
        id="dr-screening",
        hook="patient-view",
        title="Title",
        description="Description",
        prefetch={"patient": "Patient/{{context.patientId}}"},
        usage_requirements="Needs FHIR access",
        required_prefetch=frozenset({"patient"}),
    )
    assert service.descriptor().to_json() == {
        "hook": "patient-view",
        "title": "Title",
        "description": "Description",
        "id": "dr-screening",
        "prefetch": {"patient": "Patient/{{context.patientId}}"},
        "usageRequirements": "Needs FHIR access",
    }
    bare = CdsService(id="x", hook="org.example.custom-hook", description="d")
    assert bare.descriptor().to_json() == {
        "hook": "org.example.custom-hook",
        "description": "d",
        "id": "x",
    }
    assert set(service.templates) == {"patient"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"id": "has space"}, "URL-safe"),
        ({"id": "a/b"}, "URL-safe"),
        ({"required_prefetch": frozenset({"nope"})}, "undeclared"),
        ({"prefetch": {"p": "Patient/{{context.nope}}"}}, "no prefetch token context.nope"),
        ({"prefetch": {"p": "Bundle?x={{context.draftOrders}}"}}, "no prefetch token"),
        ({"prefetch": {"p": "https://x/Patient/1"}}, "relative"),
        ({"description": ""}, "at least 1 character"),
    ],
)
def test_bad_definitions_fail_at_start_up(fields: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"id": "svc", "hook": "order-sign", "description": "d"}
    with pytest.raises(ValidationError, match=message):
        CdsService.model_validate({**base, **fields})


def test_unknown_hooks_accept_any_context_token() -> None:
    service = CdsService(
        id="svc",
        hook="org.example.custom",
        description="d",
        prefetch={"x": "Observation?focus={{context.anything}}"},
    )
    assert service.templates["x"].context_fields == {"anything"}


def test_feedback_identity_ignores_timezone_spelling_and_store_is_idempotent() -> None:
    a = Feedback.model_validate(
        {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2024-01-01T01:00:00+01:00"}
    )
    b = Feedback.model_validate(
        {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2024-01-01T00:00:00Z"}
    )
    assert feedback_identity("s", a) == feedback_identity("s", b)
    store = InMemoryFeedbackStore()
    assert store.record("s", a, None) is True
    assert store.record("s", b, None) is False
    assert store.record("other-service", b, None) is True
    assert len(store.all()) == 2
