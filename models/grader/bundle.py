"""Model bundles (MONAI-style): a folder with model.onnx, metadata.json, MODEL_CARD.md.

`load_bundle(folder)` validates metadata.json with pydantic and checks it against the
ONNX graph (input name and shape, every declared output present with the declared
shape) before anything is served; a mismatch raises ModelUnavailable. A bundle may declare
only some outputs (another team's DR-grade-only model, say): the predictor fills what
the bundle has and leaves the rest None.

Only onnx-free code here: the graph is inspected through onnxruntime's session metadata.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from models.grader.errors import ModelUnavailable
from models.grader.preprocess import FieldParams, NormaliseParams
from models.grader.result import ICDR_LABELS, LESION_KEYS

SCHEMA_VERSION = 1
MAX_BUNDLE_BYTES = 30 * 1024 * 1024


class OutputKind(StrEnum):
    GRADE_PROBS = "grade_probs"  # (N, 5) ICDR probabilities
    REFERABLE_PROB = "referable_prob"  # (N,)
    DME_PROB = "dme_prob"  # (N,)
    QUALITY_PROB = "quality_prob"  # (N,) probability the image is gradable
    LESION_PROBS = "lesion_probs"  # (N, len(lesion labels))
    LESION_MAPS = "lesion_maps"  # (N, len(lesion labels), H, W)


_RANK = {
    OutputKind.GRADE_PROBS: 2,
    OutputKind.REFERABLE_PROB: 1,
    OutputKind.DME_PROB: 1,
    OutputKind.QUALITY_PROB: 1,
    OutputKind.LESION_PROBS: 2,
    OutputKind.LESION_MAPS: 4,
}


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OutputSpec(_Strict):
    name: str  # the ONNX output name
    kind: OutputKind
    shape: tuple[int | str, ...]  # the batch axis is a name ("batch") or a number

    @model_validator(mode="after")
    def _rank(self) -> OutputSpec:
        if len(self.shape) != _RANK[self.kind]:
            raise ValueError(f"output {self.name}: {self.kind} needs rank {_RANK[self.kind]}")
        return self


class InputSpec(_Strict):
    name: str = "image"
    shape: tuple[int | str, int, int, int]  # (batch, 3, side, side)
    dtype: Literal["float32"] = "float32"

    @property
    def side(self) -> int:
        return self.shape[2]

    @model_validator(mode="after")
    def _square_rgb(self) -> InputSpec:
        if self.shape[1] != 3 or self.shape[2] != self.shape[3] or self.shape[2] < 32:
            raise ValueError("input must be (batch, 3, side, side) with side >= 32")
        return self


class Preprocessing(_Strict):
    method: Literal["deepdr-field-green-v1"] = "deepdr-field-green-v1"
    description: str = (
        "find the fundus circle, crop its bounding square (black padding), resize to side; "
        "green channel equalised inside the field; channels = equalised, fine and coarse "
        "local-average-subtracted views; (x - 128) / 128; NCHW float32"
    )
    field: dict[str, float] = Field(default_factory=lambda: vars(FieldParams()).copy())
    normalise: dict[str, float] = Field(default_factory=lambda: vars(NormaliseParams()).copy())
    mean: float = 128.0
    scale: float = 128.0

    def field_params(self) -> FieldParams:
        return FieldParams(**self.field)

    def normalise_params(self) -> NormaliseParams:
        return NormaliseParams(**self.normalise)


class Thresholds(_Strict):
    referable: float = Field(ge=0.0, le=1.0)
    dme: float | None = Field(default=None, ge=0.0, le=1.0)
    quality: float = Field(default=0.5, ge=0.0, le=1.0)
    lesions: dict[str, float] = Field(default_factory=dict)
    how_chosen: str = ""


class QualityGate(_Strict):
    """Classical checks on the raw crop, before the network's quality output."""

    min_field_luma: float = 12.0  # mean luma (0-255) inside the field
    max_dark_fraction: float = 0.6  # fraction of field pixels with luma < 10
    max_saturated_fraction: float = 0.4  # fraction of field pixels with luma > 250
    how_chosen: str = ""


class Labels(_Strict):
    grade: tuple[str, ...] = ICDR_LABELS
    lesions: tuple[str, ...] = LESION_KEYS


class Metadata(_Strict):
    schema_version: Literal[1] = 1
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    version: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._+-]+$")
    description: str = ""
    model_file: str = "model.onnx"
    precision: Literal["fp32", "int8", "fp16"] = "fp32"
    input: InputSpec
    outputs: tuple[OutputSpec, ...] = Field(min_length=1)
    preprocessing: Preprocessing = Preprocessing()
    labels: Labels = Labels()
    thresholds: Thresholds
    quality_gate: QualityGate = QualityGate()
    training: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    licence: dict[str, str] = Field(default_factory=dict)
    intended_use: str = "research and demonstration; not for clinical use"

    @model_validator(mode="after")
    def _consistent(self) -> Metadata:
        kinds = [o.kind for o in self.outputs]
        if len(set(kinds)) != len(kinds):
            raise ValueError("each output kind may appear once")
        if len({o.name for o in self.outputs}) != len(self.outputs):
            raise ValueError("output names must be unique")
        if not ({OutputKind.GRADE_PROBS, OutputKind.REFERABLE_PROB} & set(kinds)):
            raise ValueError("a grader bundle needs grade_probs or referable_prob")
        for o in self.outputs:
            if o.kind == OutputKind.GRADE_PROBS and o.shape[1] != len(self.labels.grade):
                raise ValueError("grade_probs width must match labels.grade")
            if o.kind in (OutputKind.LESION_PROBS, OutputKind.LESION_MAPS):
                if o.shape[1] != len(self.labels.lesions):
                    raise ValueError(f"{o.kind} width must match labels.lesions")
        if len(self.labels.grade) != 5:
            raise ValueError("labels.grade must list the 5 ICDR levels")
        return self

    def output(self, kind: OutputKind) -> OutputSpec | None:
        return next((o for o in self.outputs if o.kind == kind), None)


def read_metadata(folder: Path) -> Metadata:
    path = folder / "metadata.json"
    if not path.is_file():
        raise ModelUnavailable(f"bundle {folder.name}: no metadata.json")
    try:
        return Metadata.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValidationError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()
        reason = first[1].strip() if len(first) > 1 else (first[0] if first else "invalid")
        raise ModelUnavailable(f"bundle {folder.name}: invalid metadata.json ({reason})") from None


def _dims_match(declared: tuple[int | str, ...], actual: list[Any]) -> bool:
    """Same rank, and every axis fixed on both sides has the same size (named/dynamic axes
    such as the batch match anything)."""
    if len(declared) != len(actual):
        return False
    return all(
        not (isinstance(d, int) and isinstance(a, int)) or d == a
        for d, a in zip(declared, actual, strict=True)
    )


def check_against_session(meta: Metadata, inputs: list[Any], outputs: list[Any]) -> None:
    """Compare declared input/outputs with an onnxruntime session's (NodeArg lists)."""
    if len(inputs) != 1:
        raise ModelUnavailable("model must have exactly one input")
    arg = inputs[0]
    if arg.name != meta.input.name or not _dims_match(meta.input.shape, list(arg.shape)):
        raise ModelUnavailable(
            f"model input {arg.name}{list(arg.shape)} does not match metadata "
            f"{meta.input.name}{list(meta.input.shape)}"
        )
    if arg.type != "tensor(float)":
        raise ModelUnavailable(f"model input type {arg.type} is not float32")
    present = {o.name: o for o in outputs}
    for spec in meta.outputs:
        got = present.get(spec.name)
        if got is None:
            raise ModelUnavailable(f"declared output {spec.name!r} is not in the model")
        if not _dims_match(spec.shape, list(got.shape)):
            raise ModelUnavailable(
                f"output {spec.name} has shape {list(got.shape)}, metadata says {list(spec.shape)}"
            )


def bundle_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def shipped_bundles_dir() -> Path:
    """models/grader/bundles/ next to this module (works from a wheel or a checkout)."""
    return Path(__file__).resolve().parent / "bundles"


def default_bundle() -> Path | None:
    """The newest (by folder name) bundle shipped with the package, if any."""
    found = sorted(p.parent for p in shipped_bundles_dir().glob("*/metadata.json"))
    return found[-1] if found else None
