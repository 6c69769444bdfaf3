"""Typed application configuration. One object, validated once, passed to create_app."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class FhirSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str | None = None
    timeout_s: float = Field(default=15.0, gt=0)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fhir: FhirSettings = FhirSettings()
    grader_bundle: Path | None = None
    data_dir: Path = Path("var")
