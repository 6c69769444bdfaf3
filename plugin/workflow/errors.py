"""Typed workflow errors. Each carries a short `code` (for the web layer's status mapping)
and a message safe to show to a caller: FHIR references and counts, never patient data,
server text or tokens. FHIR failures (plugin.fhir.FhirError) pass through unchanged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plugin.workflow.types import ImageProblem


class WorkflowError(Exception):
    code = "workflow-error"

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class InvalidRequest(WorkflowError):
    """The caller asked for something malformed (a bad patient reference, an option out of
    range)."""

    code = "invalid-request"


class PatientNotFound(WorkflowError):
    code = "patient-not-found"


class NoImages(WorkflowError):
    """The record holds no fundus image reference (ImagingStudy, Media, DocumentReference)."""

    code = "no-images"


class ImagingErrors(WorkflowError):
    """The record has images but none could be retrieved or graded. When some could, the
    screening succeeds and lists the others as per-image problems instead."""

    code = "imaging-errors"

    def __init__(self, message: str, problems: Sequence[ImageProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__(message)


class GraderUnavailable(WorkflowError):
    """No grader is configured, or its bundle cannot be loaded."""

    code = "grader-unavailable"


class AdviceUnavailable(WorkflowError):
    """The advice engine asked for (a language model) cannot be used."""

    code = "advice-unavailable"
