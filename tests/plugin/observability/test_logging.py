"""Structured logs: one JSON object per line with the request id; secrets, patient
references and URL query strings scrubbed; exceptions as type and frames only."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from plugin.config import LoggingSettings
from plugin.observability.logging import (
    configure_logging,
    remove_logging_handler,
    request_id_context,
)
from plugin.observability.redact import REDACTED, redact

JWT = "eyJhbGciOiJSUzM4NCIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJQcmFjdGl0aW9uZXIvOTkifQ.c2lnLXNlY3JldA"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"Authorization: Bearer {JWT}", JWT),
        ("authorization=Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        ("sent bearer opaque-Token-123 to the EHR", "opaque-Token-123"),
        (f"token {JWT} in a sentence", "c2lnLXNlY3JldA"),
        ('{"access_token": "at-SECRET", "token_type": "Bearer"}', "at-SECRET"),
        ("refresh_token=rt-SECRET&scope=openid", "rt-SECRET"),
        ("{'id_token': 'idt-SECRET'}", "idt-SECRET"),
        ("client_secret: cs-SECRET", "cs-SECRET"),
        ("postgresql://deepdr:pw-SECRET@db.example/deepdr", "pw-SECRET"),
        ("GET https://ehr.example/fhir/Observation?patient=998877&code=4548-4", "998877"),
        ("read Patient/998877 ok", "998877"),
        ("practitioner Practitioner/pr-5 signed", "pr-5"),
    ],
)
def test_redact_removes_secrets_and_identifiers(text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned
    assert REDACTED in cleaned


def test_redact_keeps_ordinary_text() -> None:
    text = "job 3f2a attempt 2 failed (FhirTimeout): now queued; route /cds-services/<id>"
    assert redact(text) == text


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure_logging(LoggingSettings(level="DEBUG", format="json"), stream)
    yield stream
    remove_logging_handler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_request_id_and_extra_fields(log_stream: io.StringIO) -> None:
    log = logging.getLogger("deepdr.test")
    with request_id_context("req-77"):
        log.info("request", extra={"route": "/items/<item_id>", "status": 200, "ms": 1.5})
    log.warning("no request here %s", "at all")
    first, second = lines(log_stream)
    assert first["event"] == "request" and first["level"] == "INFO"
    assert (first["request_id"], first["route"], first["status"]) == (
        "req-77",
        "/items/<item_id>",
        200,
    )
    assert first["logger"] == "deepdr.test" and "ts" in first
    assert second["event"] == "no request here at all" and "request_id" not in second


def test_arguments_and_extra_fields_are_redacted(log_stream: io.StringIO) -> None:
    log = logging.getLogger("deepdr.test")
    log.info("token response %s", {"access_token": "at-SECRET", "patient": "123"})
    log.info("calling", extra={"url": "https://ehr.example/fhir/Patient?name=Smith"})
    text = log_stream.getvalue()
    assert "at-SECRET" not in text and "Smith" not in text
    assert len(lines(log_stream)) == 2


def test_exceptions_are_logged_as_type_and_frames_without_message(
    log_stream: io.StringIO,
) -> None:
    def fail() -> None:
        raise ValueError("patient Zebedee Quartermain, MRN 555-0101")

    try:
        fail()
    except ValueError:
        logging.getLogger("deepdr.test").exception("grading failed")
    (entry,) = lines(log_stream)
    assert entry["exc_type"] == "ValueError"
    assert "test_logging.py" in str(entry["exc_where"]) and "fail@" in str(entry["exc_stack"])
    assert "Zebedee" not in log_stream.getvalue() and "555-0101" not in log_stream.getvalue()


def test_configure_logging_replaces_its_own_handler_only() -> None:
    other = logging.NullHandler()
    root = logging.getLogger()
    root.addHandler(other)
    first_stream, second_stream = io.StringIO(), io.StringIO()
    first = configure_logging(LoggingSettings(format="text"), first_stream)
    second = configure_logging(LoggingSettings(), second_stream)
    try:
        assert first not in root.handlers and second in root.handlers and other in root.handlers
        logging.getLogger("deepdr.test").info("once")
        assert first_stream.getvalue() == "" and second_stream.getvalue().count("once") == 1
    finally:
        remove_logging_handler(second)
        root.removeHandler(other)


def test_text_format_for_terminals() -> None:
    stream = io.StringIO()
    handler = configure_logging(LoggingSettings(format="text"), stream)
    try:
        with request_id_context("r-9"):
            logging.getLogger("deepdr.test").info("hello Bearer abc.def", extra={"status": 201})
    finally:
        remove_logging_handler(handler)
    line = stream.getvalue().strip()
    assert " INFO    deepdr.test [r-9] hello Bearer [redacted] status=201" in line
