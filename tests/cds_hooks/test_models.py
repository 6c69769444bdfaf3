"""The wire models enforce the CDS Hooks 2.0 rules for requests, cards and feedback."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from cds_hooks.models import (
    Action,
    Card,
    CdsRequest,
    CdsResponse,
    Feedback,
    FeedbackRequest,
    Link,
    Source,
    Suggestion,
)

SRC = {"label": "Example"}


def _card(**fields: Any) -> dict[str, Any]:
    return {"summary": "Something to know", "indicator": "info", "source": SRC, **fields}


def _request(**fields: Any) -> dict[str, Any]:
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/1", "patientId": "1"},
        **fields,
    }


def test_spec_example_request_parses_and_hides_the_token() -> None:
    req = CdsRequest.model_validate(
        _request(
            fhirServer="https://ehr.example.org/fhir/",
            fhirAuthorization={
                "access_token": "some-opaque-fhir-access-token",
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "user/Patient.read user/Observation.read",
                "subject": "cds-service4",
            },
            prefetch={"patientToGreet": {"resourceType": "Patient", "id": "1"}, "x": None},
            extension={"com.example.timestamp": "2017-11-27T22:13:25Z"},
        )
    )
    assert req.fhir_server == "https://ehr.example.org/fhir"
    assert req.access_token == "some-opaque-fhir-access-token"
    assert "some-opaque" not in repr(req) and "some-opaque" not in str(req)
    assert req.prefetch == {"patientToGreet": {"resourceType": "Patient", "id": "1"}, "x": None}
    assert req.extension == {"com.example.timestamp": "2017-11-27T22:13:25Z"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"hookInstance": "not-a-uuid"}, "must be a UUID"),
        ({"context": "patient 1"}, "valid dictionary"),
        ({"fhirServer": "/relative"}, "absolute http(s) URL"),
        (
            {
                "fhirAuthorization": {
                    "access_token": "t",
                    "token_type": "Bearer",
                    "expires_in": 1,
                    "scope": "s",
                    "subject": "c",
                }
            },
            "fhirServer is required",
        ),
        (
            {
                "fhirServer": "https://x.org",
                "fhirAuthorization": {
                    "access_token": "t",
                    "token_type": "MAC",
                    "expires_in": 1,
                    "scope": "s",
                    "subject": "c",
                },
            },
            "must be Bearer",
        ),
        ({"prefetch": {"p": {"id": "1"}}}, "neither a FHIR resource nor null"),
    ],
)
def test_bad_requests_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        CdsRequest.model_validate(_request(**fields))


def test_request_requires_hook_instance_and_context() -> None:
    with pytest.raises(ValidationError) as info:
        CdsRequest.model_validate({"hook": "patient-view"})
    missing = {e["loc"][0] for e in info.value.errors()}
    assert missing == {"hookInstance", "context"}


def test_summary_must_be_under_140_characters() -> None:
    Card.model_validate(_card(summary="x" * 139))
    with pytest.raises(ValidationError, match="at most 139"):
        Card.model_validate(_card(summary="x" * 140))
    with pytest.raises(ValidationError):
        Card.model_validate(_card(summary=""))


def test_indicator_and_source_are_required_and_checked() -> None:
    with pytest.raises(ValidationError, match="'info', 'warning' or 'critical'"):
        Card.model_validate(_card(indicator="urgent"))
    with pytest.raises(ValidationError, match="source"):
        Card.model_validate({"summary": "s", "indicator": "info"})
    with pytest.raises(ValidationError, match="absolute http"):
        Source.model_validate({"label": "x", "url": "example.org"})


def test_suggestions_need_selection_behavior() -> None:
    suggestion = {"label": "Do it", "uuid": str(uuid.uuid4())}
    with pytest.raises(ValidationError, match="selectionBehavior is required"):
        Card.model_validate(_card(suggestions=[suggestion]))
    card = Card.model_validate(_card(suggestions=[suggestion], selectionBehavior="any"))
    assert card.to_json()["selectionBehavior"] == "any"
    with pytest.raises(ValidationError, match="'at-most-one' or 'any'"):
        Card.model_validate(_card(suggestions=[suggestion], selectionBehavior="all"))
    with pytest.raises(ValidationError, match="without suggestions"):
        Card.model_validate(_card(selectionBehavior="any"))


def test_at_most_one_allows_one_recommended_suggestion() -> None:
    two = [
        {"label": "A", "isRecommended": True},
        {"label": "B", "isRecommended": True},
    ]
    Card.model_validate(_card(suggestions=two, selectionBehavior="any"))
    with pytest.raises(ValidationError, match="at most one suggestion may be recommended"):
        Card.model_validate(_card(suggestions=two, selectionBehavior="at-most-one"))


def test_override_reasons_need_display() -> None:
    reason = {"system": "https://example.org/r", "code": "1"}
    with pytest.raises(ValidationError, match="needs a display"):
        Card.model_validate(_card(overrideReasons=[reason]))
    Card.model_validate(_card(overrideReasons=[{**reason, "display": "Patient refused"}]))


def test_empty_arrays_are_not_allowed_on_cards() -> None:
    for name in ("suggestions", "links", "overrideReasons"):
        with pytest.raises(ValidationError, match="at least 1 item"):
            Card.model_validate(_card(**{name: []}))


def test_links_types_and_app_context() -> None:
    Link.model_validate({"label": "App", "url": "https://a.org/launch", "type": "smart"})
    Link.model_validate(
        {"label": "App", "url": "https://a.org/l", "type": "smart", "appContext": '{"a":1}'}
    )
    with pytest.raises(ValidationError, match="only valid on smart links"):
        Link.model_validate(
            {"label": "A", "url": "https://a.org", "type": "absolute", "appContext": "x"}
        )
    with pytest.raises(ValidationError, match="'absolute' or 'smart'"):
        Link.model_validate({"label": "A", "url": "https://a.org", "type": "relative"})
    with pytest.raises(ValidationError, match="absolute http"):
        Link.model_validate({"label": "A", "url": "launch.html", "type": "smart"})


def test_action_targets() -> None:
    Action.model_validate(
        {"type": "create", "description": "d", "resource": {"resourceType": "ServiceRequest"}}
    )
    Action.model_validate({"type": "delete", "description": "d", "resourceId": "ServiceRequest/1"})
    with pytest.raises(ValidationError, match="create action needs a resource"):
        Action.model_validate({"type": "create", "description": "d"})
    with pytest.raises(ValidationError, match="delete action needs a resourceId"):
        Action.model_validate({"type": "delete", "description": "d"})
    with pytest.raises(ValidationError, match="relative reference"):
        Action.model_validate({"type": "delete", "description": "d", "resourceId": "1"})
    with pytest.raises(ValidationError, match="resourceType missing"):
        Action.model_validate({"type": "update", "description": "d", "resource": {"id": "1"}})
    with pytest.raises(ValidationError, match="every suggestion action needs a description"):
        Suggestion.model_validate(
            {"label": "x", "actions": [{"type": "delete", "resourceId": "ServiceRequest/1"}]}
        )


def test_system_actions_may_omit_description_but_not_be_empty() -> None:
    ok = {"cards": [], "systemActions": [{"type": "delete", "resourceId": "Task/1"}]}
    assert CdsResponse.model_validate(ok).to_json() == ok
    with pytest.raises(ValidationError, match="at least 1 item"):
        CdsResponse.model_validate({"cards": [], "systemActions": []})


def test_response_round_trip_omits_absent_fields_and_keeps_camel_case() -> None:
    doc = {
        "cards": [
            _card(
                uuid=str(uuid.uuid4()),
                suggestions=[{"label": "A", "uuid": str(uuid.uuid4()), "isRecommended": True}],
                selectionBehavior="at-most-one",
            )
        ]
    }
    assert CdsResponse.model_validate(doc).to_json() == doc
    assert CdsResponse(cards=[]).to_json() == {"cards": []}


def test_duplicate_card_uuids_are_refused() -> None:
    same = str(uuid.uuid4())
    with pytest.raises(ValidationError, match="card uuids must be unique"):
        CdsResponse.model_validate({"cards": [_card(uuid=same), _card(uuid=same)]})


def test_feedback_rules() -> None:
    accepted = {
        "card": "c",
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": "s"}],
        "outcomeTimestamp": "2020-12-11T02:00:00+02:00",
    }
    item = Feedback.model_validate(accepted)
    assert item.outcome_timestamp.isoformat() == "2020-12-11T00:00:00+00:00"
    with pytest.raises(ValidationError, match="acceptedSuggestions is required"):
        Feedback.model_validate({**accepted, "acceptedSuggestions": None})
    with pytest.raises(ValidationError, match="only valid for accepted"):
        Feedback.model_validate({**accepted, "outcome": "overridden"})
    with pytest.raises(ValidationError, match="timezone"):
        Feedback.model_validate({**accepted, "outcomeTimestamp": "2020-12-11T00:00:00"})
    overridden = {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2020-12-11T00:00:00Z"}
    Feedback.model_validate(overridden)
    Feedback.model_validate({**overridden, "overrideReason": {"userComment": "no"}})
    with pytest.raises(ValidationError, match="at least 1 item"):
        FeedbackRequest.model_validate({"feedback": []})
