"""Structured logs: one JSON object per line, with the request id, and nothing secret.

    configure_logging(settings.logging)          # once per process (serve, worker, CLI)
    log.info("request", extra={"route": "/cds-services/<service_id>", "status": 200})

Every record passes `RedactingFilter` (tokens, JWTs, credentials, URL query strings and
patient references scrubbed from the message and string fields). Exceptions are logged as
type and frames only: their messages can carry patient data from a payload or a server.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, Any

from plugin.config import LoggingSettings
from plugin.observability.redact import redact

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "deepdr_request_id", default=None
)

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
# `extra` fields that are safe by construction and skip redaction (numbers pass anyway).
_MAX_FIELD_CHARS = 2000


def current_request_id() -> str | None:
    return _request_id.get()


@contextmanager
def request_id_context(request_id: str | None) -> Iterator[None]:
    """Binds a request (or job) id to log records made in this context."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


def bind_request_id(request_id: str | None) -> contextvars.Token[str | None]:
    return _request_id.set(request_id)


def unbind_request_id(token: contextvars.Token[str | None]) -> None:
    try:
        _request_id.reset(token)
    except ValueError:  # reset from another context (a streamed response): just clear it
        _request_id.set(None)


class RedactingFilter(logging.Filter):
    """Formats the message, scrubs it and every string `extra` field, and stamps the
    request id. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # bad %-args: keep the template only
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, redact(value[:_MAX_FIELD_CHARS]))
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and value is not None:
                entry[key] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_info and record.exc_info[0] is not None:
            entry.update(exception_fields(record.exc_info[1]))
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """For a terminal: `time level logger [request id] message key=value ...`."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        rid = getattr(record, "request_id", None)
        extras = " ".join(
            f"{k}={v}"
            for k, v in record.__dict__.items()
            if k not in _STANDARD_ATTRS and k != "request_id" and v is not None
        )
        line = f"{stamp} {record.levelname:<7} {record.name}"
        line += f" [{rid}]" if rid else ""
        line += f" {record.getMessage()}" + (f" {extras}" if extras else "")
        if record.exc_info and record.exc_info[0] is not None:
            fields = exception_fields(record.exc_info[1])
            line += f" ({fields['exc_type']} at {fields['exc_where']})"
        return line


def exception_fields(exc: BaseException | None) -> dict[str, str]:
    """Type and frames of an exception, without its message."""
    if exc is None:
        return {}
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    stack = " <- ".join(
        f"{f.name}@{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in frames[::-1]
    )
    return {"exc_type": type(exc).__name__, "exc_where": where, "exc_stack": stack[:1500]}


_HANDLER_MARK = "_deepdr_handler"
# Loggers that would otherwise print raw request lines (paths with ids, query strings).
_QUIET_LOGGERS = ("werkzeug", "gunicorn.access", "httpx", "httpcore", "urllib3")


def configure_logging(
    settings: LoggingSettings | None = None, stream: IO[str] | None = None
) -> logging.Handler:
    """Installs our handler on the root logger (replacing one installed before) and
    returns it. Other handlers (pytest's capture) are left alone."""
    settings = settings or LoggingSettings()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.format == "json" else TextFormatter())
    handler.addFilter(RedactingFilter())
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, _HANDLER_MARK, False):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(settings.level)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler


def remove_logging_handler(handler: logging.Handler) -> None:
    logging.getLogger().removeHandler(handler)
    handler.close()
