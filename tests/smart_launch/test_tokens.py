"""Token responses: parsing, validation, launch context, expiry, carry-over on refresh."""

from __future__ import annotations

import httpx
import pytest

from smart_launch.errors import RefreshFailed, TokenResponseError
from smart_launch.tokens import (
    TokenResponse,
    TokenSet,
    parse_token_response,
    token_set_from_response,
)


def response(status: int, body: object) -> httpx.Response:
    return httpx.Response(status, json=body)


FULL = {
    "access_token": "secret-access",
    "token_type": "bearer",
    "expires_in": 3600,
    "scope": "launch patient/Observation.rs openid fhirUser",
    "refresh_token": "secret-refresh",
    "id_token": "secret.id.token",
    "patient": "123",
    "encounter": "enc-9",
    "need_patient_banner": False,
    "smart_style_url": "https://ehr/styles/smart_v1.json",
    "intent": "review",
    "tenant": "org-1",
    "fhirContext": [{"reference": "ImagingStudy/7"}, {"canonical": "https://q", "type": "Q"}],
    "appContext": '{"patient":"Patient/123","screening":"s-1"}',
    "__dark_mode": True,
}


def test_full_response_is_parsed() -> None:
    parsed = parse_token_response(response(200, FULL))
    assert parsed.token_type == "Bearer"  # normalised
    assert parsed.patient == "123" and parsed.encounter == "enc-9"
    assert parsed.need_patient_banner is False
    assert parsed.fhirContext[0].reference == "ImagingStudy/7"
    assert parsed.fhirContext[1].canonical == "https://q"
    assert parsed.model_extra == {"__dark_mode": True}


def test_token_set_has_absolute_expiry_and_context() -> None:
    parsed = parse_token_response(response(200, FULL))
    tokens = token_set_from_response(
        parsed, now=1000.0, requested_scope="x", fhir_user="Practitioner/1"
    )
    assert tokens.expires_at == 4600.0
    assert tokens.patient_reference == "Patient/123"
    assert tokens.encounter_reference == "Encounter/enc-9"
    assert tokens.fhir_user == "Practitioner/1"
    assert tokens.granted.can_read("Observation")
    assert tokens.expires_within(60, now=4540.0)
    assert not tokens.expires_within(60, now=4539.0)
    assert tokens.is_expired(now=4600.0) and not tokens.is_expired(now=4599.0)
    assert tokens.authorization_header() == {"Authorization": "Bearer secret-access"}
    assert tokens.app_context == FULL["appContext"]  # as sent: only the app interprets it


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("c2Vzc2lvbj0z", "c2Vzc2lvbj0z"),  # any string: base64, plain text...
        ({"screening": "s-1", "a": [1]}, '{"a":[1],"screening":"s-1"}'),  # parsed JSON
        ("", None),
        (42, None),
        ("x" * 40000, None),  # too long to keep in the session
    ],
)
def test_app_context_is_kept_as_text_or_dropped(sent: object, kept: str | None) -> None:
    body = {"access_token": "a", "token_type": "Bearer", "appContext": sent}
    parsed = TokenResponse.model_validate(body)  # never a reason to refuse the response
    assert token_set_from_response(parsed, now=0.0, requested_scope="").app_context == kept


def test_secrets_never_appear_in_repr() -> None:
    parsed = parse_token_response(response(200, FULL))
    tokens = token_set_from_response(parsed, now=0.0, requested_scope="")
    for text in (repr(parsed), str(parsed), repr(tokens), str(tokens)):
        assert "secret" not in text
        assert "Patient/123" not in text  # appContext may name the patient
    # ...but they are serialised for (encrypted) storage.
    assert "secret-refresh" in tokens.model_dump_json()


def test_legacy_fhir_context_strings_are_accepted() -> None:
    parsed = TokenResponse.model_validate(
        {"access_token": "a", "token_type": "Bearer", "fhirContext": ["DiagnosticReport/1"]}
    )
    assert parsed.fhirContext[0].reference == "DiagnosticReport/1"


def test_missing_scope_means_as_requested() -> None:
    parsed = parse_token_response(response(200, {"access_token": "a", "token_type": "Bearer"}))
    tokens = token_set_from_response(parsed, now=0.0, requested_scope="patient/Patient.r")
    assert tokens.scope == "patient/Patient.r"
    assert tokens.expires_at is None and not tokens.expires_within(10**9, now=0.0)


@pytest.mark.parametrize(
    "body",
    [
        {"token_type": "Bearer"},
        {"access_token": "", "token_type": "Bearer"},
        {"access_token": "a", "token_type": "mac"},
        {"access_token": "a", "token_type": "Bearer", "patient": "../Patient/1"},
        {"access_token": "a", "token_type": "Bearer", "expires_in": -5},
        ["not", "an", "object"],
    ],
)
def test_invalid_token_responses_are_refused(body: object) -> None:
    with pytest.raises(TokenResponseError) as info:
        parse_token_response(response(200, body))
    assert "secret" not in str(info.value)


def test_oauth_error_body_becomes_a_typed_error_with_a_readable_message() -> None:
    with pytest.raises(TokenResponseError) as info:
        parse_token_response(
            response(400, {"error": "invalid_grant", "error_description": "<script>"})
        )
    assert info.value.error == "invalid_grant"
    assert "expired" in info.value.user_message
    assert "<script>" not in info.value.user_message


def test_error_class_and_messages_can_be_chosen() -> None:
    with pytest.raises(RefreshFailed) as info:
        parse_token_response(
            response(400, {"error": "invalid_grant"}), error_cls=RefreshFailed, user_messages={}
        )
    assert "launch the app again" in info.value.user_message


def test_non_json_error_page() -> None:
    with pytest.raises(TokenResponseError, match="HTTP 502"):
        parse_token_response(httpx.Response(502, text="<html>bad gateway</html>"))


def test_refresh_keeps_what_the_response_leaves_out() -> None:
    first = token_set_from_response(
        parse_token_response(response(200, FULL)),
        now=0.0,
        requested_scope="",
        fhir_user="Practitioner/1",
    )
    refreshed = token_set_from_response(
        TokenResponse.model_validate(
            {"access_token": "new", "token_type": "Bearer", "expires_in": 60}
        ),
        now=100.0,
        requested_scope=first.scope,
        previous=first,
    )
    assert refreshed.access_token == "new"
    assert refreshed.refresh_token == "secret-refresh"
    assert refreshed.patient == "123" and refreshed.fhir_user == "Practitioner/1"
    assert refreshed.scope == first.scope
    assert refreshed.fhir_context == first.fhir_context
    assert refreshed.app_context == first.app_context
    assert refreshed.expires_at == 160.0


def test_token_set_round_trips_through_json() -> None:
    tokens = token_set_from_response(
        parse_token_response(response(200, FULL)), now=5.0, requested_scope=""
    )
    assert TokenSet.model_validate_json(tokens.model_dump_json()) == tokens
