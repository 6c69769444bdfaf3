"""The screening workflow (no Flask): FHIR record -> images -> grading (cached) -> advice
-> preliminary write-back -> screening record. Used by the `screen` CLI, the `screening`
background job, the CDS service and the app."""

from plugin.workflow.errors import (
    AdviceUnavailable,
    GraderUnavailable,
    ImagingErrors,
    InvalidRequest,
    NoImages,
    PatientNotFound,
    WorkflowError,
)
from plugin.workflow.grader import Grader, load_grader, shipped_bundle
from plugin.workflow.service import ScreeningService
from plugin.workflow.types import (
    GradingOutcome,
    ImageProblem,
    PatientRecord,
    PriorReport,
    RetrievedImages,
    ScreeningOptions,
    ScreeningResult,
    WriteBackResult,
)

__all__ = [
    "AdviceUnavailable",
    "Grader",
    "GraderUnavailable",
    "GradingOutcome",
    "ImageProblem",
    "ImagingErrors",
    "InvalidRequest",
    "NoImages",
    "PatientNotFound",
    "PatientRecord",
    "PriorReport",
    "RetrievedImages",
    "ScreeningOptions",
    "ScreeningResult",
    "ScreeningService",
    "WorkflowError",
    "WriteBackResult",
    "load_grader",
    "shipped_bundle",
]
