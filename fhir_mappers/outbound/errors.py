"""Typed errors of the outbound mappers. Messages are safe to show: they name fields and
rules, never patient data."""

from __future__ import annotations


class OutboundError(ValueError):
    """Base class: the write-back could not be built from the given input."""


class OutboundInputError(OutboundError):
    """The input is malformed (missing field, wrong type, bad reference)."""


class OutboundValidationError(OutboundError):
    """A resource we built fails FHIR R4 validation or our own checks. A bug on our side or
    input that slipped past the input checks; nothing is sent."""

    def __init__(self, resource_type: str, problems: list[str]) -> None:
        self.resource_type = resource_type
        self.problems = tuple(problems)
        shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
        super().__init__(f"invalid {resource_type}: {shown}")
