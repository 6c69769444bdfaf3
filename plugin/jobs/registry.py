"""Job handlers by kind. A handler is a plain callable:

    def handle(payload: dict[str, Any], progress: Progress) -> dict[str, Any] | None

`progress(percent, message)` records progress (visible to the UI through the job's status)
and extends the lease; it raises LeaseLost when the job was taken from this runner. The
return value (a JSON object, or None) is stored as the job's result. Handlers must be
idempotent: the queue runs a job at least once, and a run cut off by a crash is repeated
(use conditional creates keyed by business identifiers for FHIR writes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from plugin.jobs.errors import UnknownJobKind


class Progress(Protocol):
    job_id: str
    attempt: int

    def __call__(self, percent: int, message: str = "") -> None: ...


JobResult = Mapping[str, Any] | None
Handler = Callable[[dict[str, Any], Progress], JobResult]


class HandlerRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, kind: str, handler: Handler) -> None:
        if not kind or kind in self._handlers:
            raise ValueError(f"job kind {kind!r} is empty or already registered")
        self._handlers[kind] = handler

    def handler(self, kind: str) -> Handler:
        try:
            return self._handlers[kind]
        except KeyError:
            raise UnknownJobKind(f"no handler for job kind {kind!r}") from None

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted(self._handlers))

    def __contains__(self, kind: object) -> bool:
        return kind in self._handlers
