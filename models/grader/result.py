"""Typed output of a fundus grader: the contract every grader bundle, the CDS cards and the
FHIR write-back share (ARCHITECTURE.md, "Grader output per image").

Optional fields are None when a bundle has no such output (another team's bundle may grade
DR only); consumers must handle that rather than assume every head exists.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

LESION_KEYS: tuple[str, ...] = ("MA", "HE", "EX", "SE")
"""Microaneurysms, haemorrhages, hard exudates, soft exudates (cotton-wool spots)."""

ICDR_LABELS: tuple[str, ...] = (
    "no apparent retinopathy",
    "mild NPDR",
    "moderate NPDR",
    "severe NPDR",
    "proliferative DR",
)


class Laterality(StrEnum):
    LEFT = "left"
    RIGHT = "right"
    UNKNOWN = "unknown"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Quality(_Frozen):
    gradable: bool
    score: float = Field(ge=0.0, le=1.0)
    reasons: tuple[str, ...] = ()


class DrGrade(_Frozen):
    probabilities: tuple[float, float, float, float, float]
    grade: int = Field(ge=0, le=4)

    @field_validator("probabilities")
    @classmethod
    def _sums_to_one(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if any(p < 0.0 or p > 1.0 for p in v) or abs(sum(v) - 1.0) > 1e-3:
            raise ValueError("DR grade probabilities must be in [0, 1] and sum to 1")
        return v


class BinaryFinding(_Frozen):
    """A probability with the decision the bundle's threshold makes of it."""

    probability: float = Field(ge=0.0, le=1.0)
    positive: bool
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)


class LesionFinding(_Frozen):
    probability: float = Field(ge=0.0, le=1.0)
    present: bool
    # Coarse heat map (rows of floats in [0, 1]) over the preprocessed square crop; None
    # when the bundle produces no map.
    map: tuple[tuple[float, ...], ...] | None = None


class ModelInfo(_Frozen):
    name: str
    version: str


class ImageGrading(_Frozen):
    """One image's result. Grade fields are None when the image is ungradable or the
    bundle lacks that head; `error` is set (and everything else None) when the image could
    not be read at all."""

    image_id: str
    laterality: Laterality = Laterality.UNKNOWN
    quality: Quality | None = None
    dr_grade: DrGrade | None = None
    referable: BinaryFinding | None = None
    dme: BinaryFinding | None = None
    lesions: dict[str, LesionFinding] = Field(default_factory=dict)
    model: ModelInfo
    error: str | None = None
    # Content hash of the source bytes: the cache key (with the model version) and the
    # link from a result back to its input.
    sha256: str | None = None

    @property
    def gradable(self) -> bool:
        return self.error is None and self.quality is not None and self.quality.gradable


class EyeGrading(_Frozen):
    """Patient-level result for one eye: the worst gradable image decides; ungradable
    when no image of that eye is gradable."""

    laterality: Laterality
    images: tuple[ImageGrading, ...]
    decisive_image_id: str | None = None

    @property
    def decisive(self) -> ImageGrading | None:
        for img in self.images:
            if img.image_id == self.decisive_image_id:
                return img
        return None

    @property
    def gradable(self) -> bool:
        return self.decisive is not None


def _severity_key(img: ImageGrading) -> tuple[int, float]:
    grade = img.dr_grade.grade if img.dr_grade else -1
    ref = img.referable.probability if img.referable else 0.0
    return (grade, ref)


def summarise_eye(laterality: Laterality, images: list[ImageGrading]) -> EyeGrading:
    """Worst gradable image of one eye (by DR grade, then referable probability)."""
    gradable = [i for i in images if i.gradable]
    decisive = max(gradable, key=_severity_key) if gradable else None
    return EyeGrading(
        laterality=laterality,
        images=tuple(images),
        decisive_image_id=decisive.image_id if decisive else None,
    )


class PatientGrading(_Frozen):
    """All images of one screening, grouped per eye."""

    eyes: tuple[EyeGrading, ...]
    model: ModelInfo

    @classmethod
    def from_images(cls, images: list[ImageGrading], model: ModelInfo) -> PatientGrading:
        eyes = []
        for lat in (Laterality.RIGHT, Laterality.LEFT, Laterality.UNKNOWN):
            mine = [i for i in images if i.laterality == lat]
            if mine:
                eyes.append(summarise_eye(lat, mine))
        return cls(eyes=tuple(eyes), model=model)

    def eye(self, laterality: Laterality) -> EyeGrading | None:
        return next((e for e in self.eyes if e.laterality == laterality), None)
