"""What the outbound mappers take: the screening context, and small input types of our own
for advice and referral (so this package does not depend on models.advice; the workflow
adapts an AdviceDraft to AdviceForFhir).

Bad input fails here, as a typed error, before any resource is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from fhir_mappers.outbound.common import check_reference
from fhir_mappers.outbound.errors import OutboundInputError
from models.grader.result import Laterality, ModelInfo, PatientGrading

IMAGE_SOURCE_TYPES = frozenset({"ImagingStudy", "Media", "DocumentReference"})
_SHORT_TEXT = 200
_LONG_TEXT = 4000


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScreeningContext(_Frozen):
    """Who and when. `issued` is passed in (not read from the clock) so the mappers stay
    pure and a test can pin it."""

    patient_ref: str
    effective: AwareDatetime  # when the images were taken
    issued: AwareDatetime  # when the result was produced
    # image_id (as in ImageGrading.image_id) -> the FHIR resource the image came from.
    image_sources: dict[str, str] = Field(default_factory=dict)
    encounter_ref: str | None = None
    diabetes_condition_ref: str | None = None

    @field_validator("patient_ref")
    @classmethod
    def _patient(cls, v: str) -> str:
        return check_reference(v, "patient_ref", frozenset({"Patient"}))

    @field_validator("encounter_ref")
    @classmethod
    def _encounter(cls, v: str | None) -> str | None:
        return None if v is None else check_reference(v, "encounter_ref", frozenset({"Encounter"}))

    @field_validator("diabetes_condition_ref")
    @classmethod
    def _condition(cls, v: str | None) -> str | None:
        if v is None:
            return None
        return check_reference(v, "diabetes_condition_ref", frozenset({"Condition"}))

    @field_validator("image_sources")
    @classmethod
    def _sources(cls, v: dict[str, str]) -> dict[str, str]:
        for ref in v.values():
            check_reference(ref, "image_sources", IMAGE_SOURCE_TYPES)
        return v


class CarePlanItem(_Frozen):
    """One advice item -> one CarePlan.activity."""

    section: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    section_title: str | None = Field(default=None, max_length=_SHORT_TEXT)
    text: str = Field(min_length=1, max_length=_LONG_TEXT)
    kind: Literal["advice", "measure"] = "advice"
    urgency: Literal["routine", "soon", "urgent"] = "routine"
    rule_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._\-]{1,64}$")
    citations: tuple[str, ...] = ()  # "ADA 2025 §12, rec. 12.5: ..."
    source_refs: tuple[str, ...] = ()  # the facts it used ("Observation/42")

    @field_validator("text", "section_title")
    @classmethod
    def _not_blank(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must not be blank")
        return v

    @field_validator("citations")
    @classmethod
    def _citations(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if any(not c.strip() or len(c) > _LONG_TEXT for c in v):
            raise ValueError("citations must be non-blank and at most 4000 characters")
        return v

    @field_validator("source_refs")
    @classmethod
    def _refs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for ref in v:
            check_reference(ref, "source_refs")
        return v


class AdviceForFhir(_Frozen):
    """An advice draft as the CarePlan mapper needs it."""

    items: tuple[CarePlanItem, ...] = Field(min_length=1, max_length=200)
    engine: ModelInfo  # the rules engine / language model that produced it, with version
    lang: str = Field(default="en", pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
    title: str = Field(default="Diabetes management advice (AI draft)", max_length=_SHORT_TEXT)
    summary: str | None = Field(default=None, max_length=_LONG_TEXT)
    notes: tuple[str, ...] = ()


class ReferralForFhir(_Frozen):
    """An ophthalmology referral the grading suggests (a proposal until a clinician acts)."""

    reason: str = Field(min_length=1, max_length=_LONG_TEXT)
    priority: Literal["routine", "urgent", "asap", "stat"] = "routine"
    eyes: tuple[Laterality, ...] = ()
    note: str | None = Field(default=None, max_length=_LONG_TEXT)
    # When the grading is not in the same write: what the referral rests on (already on the
    # server, e.g. "DiagnosticReport/7") and the model that suggested it.
    reason_refs: tuple[str, ...] = ()
    suggested_by: ModelInfo | None = None

    @field_validator("reason_refs")
    @classmethod
    def _refs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for ref in v:
            check_reference(ref, "reason_refs", frozenset({"DiagnosticReport", "Observation"}))
        return v


class WriteRequest(_Frozen):
    """Everything one write-back transaction carries: at least one of grading, advice,
    referral."""

    context: ScreeningContext
    grading: PatientGrading | None = None
    advice: AdviceForFhir | None = None
    referral: ReferralForFhir | None = None

    @model_validator(mode="after")
    def _something(self) -> WriteRequest:
        if self.grading is None and self.advice is None and self.referral is None:
            raise ValueError("nothing to write: give grading, advice or referral")
        if self.referral is not None and self.grading is None:
            if self.referral.suggested_by is None or not self.referral.reason_refs:
                raise ValueError(
                    "a referral written without its grading needs suggested_by and reason_refs"
                )
        if self.grading is not None:
            known = {img.image_id for eye in self.grading.eyes for img in eye.images}
            if set(self.context.image_sources) - known:
                raise ValueError("context.image_sources names an image the grading does not have")
        return self


T = TypeVar("T", bound=BaseModel)


def parse_input(model: type[T], data: T | Mapping[str, Any]) -> T:
    """Accept a model or its JSON form; turn pydantic's errors into one short typed error
    that names fields, never values."""
    if isinstance(data, model):
        return data
    if not isinstance(data, Mapping):
        raise OutboundInputError(f"{model.__name__}: expected an object, got {type(data).__name__}")
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise OutboundInputError(f"{model.__name__}: {describe_errors(exc)}") from None


def describe_errors(exc: ValidationError, limit: int = 3) -> str:
    parts = []
    for err in exc.errors(include_input=False, include_url=False)[:limit]:
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        msg = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    more = exc.error_count() - limit
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
