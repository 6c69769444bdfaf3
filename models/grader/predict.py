"""Serve a grader bundle with onnxruntime (no torch at serve time).

    predictor = load_predictor(Path("models/grader/bundles/<name>-<version>"), threads=2)
    predictor.provider            # the execution provider the session actually got
    predictor.grade([rgb, ...], image_ids=["a", ...])   # -> list[ImageGrading]

Per image: find the fundus field (none -> ungradable, "no fundus field"), crop and
normalise as in training, run the network in batches, apply the quality gate (classical
exposure checks + the network's quality output) and the bundle's thresholds.

The network call itself is a Runner (models.grader.runner): the bundle's model.onnx in
onnxruntime by default, or any runner given to `load_predictor(folder, runner=...)` (a
remote inference server); either is checked against metadata.json before use, and the
same metadata drives the preprocessing and postprocessing here.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from models.grader.bundle import (
    MAX_BUNDLE_BYTES,
    Metadata,
    OutputKind,
    bundle_size,
    check_against_session,
    read_metadata,
)
from models.grader.errors import BadImage, ModelUnavailable
from models.grader.images import as_rgb, load_image
from models.grader.preprocess import (
    FieldNotFound,
    FieldParams,
    NormaliseParams,
    crop_to_field,
    normalise_colour,
)
from models.grader.quality import QualityFeatures, quality_features
from models.grader.result import (
    BinaryFinding,
    DrGrade,
    ImageGrading,
    Laterality,
    LesionFinding,
    ModelInfo,
    Quality,
)
from models.grader.runner import CPU as CPU  # re-exported: callers name providers here
from models.grader.runner import CUDA as CUDA
from models.grader.runner import OnnxRunner, Runner
from models.grader.runner import default_providers as default_providers

DEFAULT_FIELD = FieldParams()
DEFAULT_NORMALISE = NormaliseParams()
NO_FUNDUS = "not a fundus photograph"
"""Prefix of the quality reason given when no fundus field is found."""


@dataclass(frozen=True)
class Prepared:
    """One image after preprocessing: network input, raw crop (for overlays), features."""

    tensor: NDArray[np.float32]  # (3, S, S)
    crop: NDArray[np.uint8]
    features: QualityFeatures


def prepare(
    rgb: NDArray[np.uint8],
    side: int,
    field: FieldParams = DEFAULT_FIELD,
    norm: NormaliseParams = DEFAULT_NORMALISE,
    mean: float = 128.0,
    scale: float = 128.0,
) -> Prepared:
    """The serving preprocessing of one RGB image (FieldNotFound when not a fundus)."""
    crop = crop_to_field(rgb, side, field)
    image = normalise_colour(crop.image, crop.valid, norm)
    x = (image.astype(np.float32) - mean) / scale
    return Prepared(
        tensor=np.ascontiguousarray(x.transpose(2, 0, 1)),
        crop=crop.image,
        features=quality_features(crop.image, crop.valid),
    )


class Predictor:
    def __init__(
        self,
        folder: Path,
        threads: int | None = None,
        providers: Sequence[str] = (),
        batch_size: int = 8,
        runner: Runner | None = None,
    ) -> None:
        """`runner`: where the network runs (default: the bundle's model.onnx in
        onnxruntime, which must then be present); it must match metadata.json."""
        self.folder = Path(folder)
        self.meta: Metadata = read_metadata(self.folder)
        if runner is None:
            model_path = self.folder / self.meta.model_file
            if not model_path.is_file():
                raise ModelUnavailable(f"bundle {self.folder.name}: {self.meta.model_file} missing")
            if bundle_size(self.folder) > MAX_BUNDLE_BYTES:
                raise ModelUnavailable(f"bundle {self.folder.name}: larger than 30 MB")
            runner = OnnxRunner(
                model_path, threads=threads, providers=providers, label=self.folder.name
            )
        check_against_session(self.meta, list(runner.inputs), list(runner.outputs))
        self.runner: Runner = runner
        self.provider: str = runner.provider
        self.batch_size = max(1, batch_size)
        self.side = self.meta.input.side
        self._field = self.meta.preprocessing.field_params()
        self._norm = self.meta.preprocessing.normalise_params()

    @property
    def model(self) -> ModelInfo:
        return ModelInfo(name=self.meta.name, version=self.meta.version)

    # -- preprocessing -------------------------------------------------------------
    def prepare(self, rgb: NDArray[np.uint8]) -> Prepared:
        """Raises FieldNotFound (a BadImage) when there is no fundus field."""
        pp = self.meta.preprocessing
        return prepare(rgb, self.side, self._field, self._norm, pp.mean, pp.scale)

    def run(self, batch: NDArray[np.float32]) -> dict[OutputKind, NDArray[np.float32]]:
        """Raw network outputs by kind for a (N, 3, S, S) batch."""
        values = self.runner.run({self.meta.input.name: batch}, [o.name for o in self.meta.outputs])
        out: dict[OutputKind, NDArray[np.float32]] = {}
        for o in self.meta.outputs:
            v = values.get(o.name)
            # A runner that drops an output or returns another batch size would shift
            # results between images: refuse rather than misattribute.
            if v is None or v.ndim == 0 or v.shape[0] != batch.shape[0]:
                raise ModelUnavailable(f"inference returned no usable {o.name!r} output")
            out[o.kind] = np.asarray(v, np.float32)
        return out

    # -- grading ---------------------------------------------------------------------
    def grade(
        self,
        images: Sequence[NDArray[np.generic]],
        image_ids: Sequence[str] | None = None,
        lateralities: Sequence[Laterality] | None = None,
        sha256s: Sequence[str | None] | None = None,
    ) -> list[ImageGrading]:
        """One ImageGrading per input array, same order. An array that is not an image
        raises BadImage; a photo without a fundus field comes back ungradable."""
        n = len(images)
        ids = list(image_ids) if image_ids is not None else [str(i) for i in range(n)]
        lats = list(lateralities) if lateralities is not None else [Laterality.UNKNOWN] * n
        shas = list(sha256s) if sha256s is not None else [None] * n
        if not (len(ids) == len(lats) == len(shas) == n):
            raise ValueError("images, image_ids, lateralities and sha256s differ in length")
        prepared: list[Prepared | None] = []
        reasons: list[str | None] = []
        for arr in images:
            try:
                prepared.append(self.prepare(as_rgb(arr)))
                reasons.append(None)
            except FieldNotFound as exc:
                prepared.append(None)
                reasons.append(f"{NO_FUNDUS}: {exc}")
        outputs = self._run_batched([p for p in prepared if p is not None])
        results: list[ImageGrading] = []
        k = 0
        for i in range(n):
            p = prepared[i]
            common = {"image_id": ids[i], "laterality": lats[i], "model": self.model}
            if p is None:
                quality = Quality(gradable=False, score=0.0, reasons=(reasons[i] or "",))
                results.append(ImageGrading(quality=quality, sha256=shas[i], **common))
                continue
            row = {kind: v[k] for kind, v in outputs.items()}
            k += 1
            results.append(self._grading(row, p, shas[i], common))
        return results

    def grade_files(self, paths: Sequence[Path]) -> list[ImageGrading]:
        """Decode (safely) and grade files; unreadable files raise BadImage."""
        arrays = [load_image(p, draft_side=self.side) for p in paths]
        return self.grade(arrays, image_ids=[p.name for p in paths])

    def _run_batched(self, prepared: list[Prepared]) -> dict[OutputKind, NDArray[np.float32]]:
        chunks: dict[OutputKind, list[NDArray[np.float32]]] = {}
        for start in range(0, len(prepared), self.batch_size):
            batch = np.stack([p.tensor for p in prepared[start : start + self.batch_size]])
            for kind, v in self.run(batch).items():
                chunks.setdefault(kind, []).append(v)
        return {kind: np.concatenate(v) for kind, v in chunks.items()}

    def _quality(self, row: dict[OutputKind, NDArray[np.float32]], f: QualityFeatures) -> Quality:
        gate = self.meta.quality_gate
        reasons = []
        if f.field_luma < gate.min_field_luma or f.dark_fraction > gate.max_dark_fraction:
            reasons.append("underexposed: too much of the field is dark")
        if f.saturated_fraction > gate.max_saturated_fraction:
            reasons.append("overexposed: too much of the field is saturated")
        score = float(row[OutputKind.QUALITY_PROB]) if OutputKind.QUALITY_PROB in row else 1.0
        score = min(1.0, max(0.0, score))
        if score < self.meta.thresholds.quality:
            reasons.append("low image quality (blur, haze, shadow or artefacts)")
        return Quality(gradable=not reasons, score=score, reasons=tuple(reasons))

    def _grading(
        self,
        row: dict[OutputKind, NDArray[np.float32]],
        p: Prepared,
        sha: str | None,
        common: dict[str, object],
    ) -> ImageGrading:
        quality = self._quality(row, p.features)
        if not quality.gradable:
            return ImageGrading(quality=quality, sha256=sha, **common)
        th = self.meta.thresholds
        dr_grade = referable = dme = None
        if OutputKind.GRADE_PROBS in row:
            probs = np.clip(row[OutputKind.GRADE_PROBS].astype(np.float64), 0.0, 1.0)
            probs = probs / max(probs.sum(), 1e-9)
            dr_grade = DrGrade(
                probabilities=tuple(round(float(v), 6) for v in probs),
                grade=int(np.argmax(probs)),
            )
        if OutputKind.REFERABLE_PROB in row:
            referable = _finding(float(row[OutputKind.REFERABLE_PROB]), th.referable)
        elif dr_grade is not None:  # a grade-only bundle: moderate NPDR or worse
            referable = _finding(sum(dr_grade.probabilities[2:]), th.referable)
        if OutputKind.DME_PROB in row and th.dme is not None:
            dme = _finding(float(row[OutputKind.DME_PROB]), th.dme)
        lesions: dict[str, LesionFinding] = {}
        if OutputKind.LESION_PROBS in row:
            maps = row.get(OutputKind.LESION_MAPS)
            for j, key in enumerate(self.meta.labels.lesions):
                prob = min(1.0, max(0.0, float(row[OutputKind.LESION_PROBS][j])))
                lmap = None
                if maps is not None:
                    lmap = tuple(
                        tuple(round(float(min(1.0, max(0.0, v))), 3) for v in r) for r in maps[j]
                    )
                lesions[key] = LesionFinding(
                    probability=prob, present=prob >= th.lesions.get(key, 0.5), map=lmap
                )
        return ImageGrading(
            quality=quality,
            dr_grade=dr_grade,
            referable=referable,
            dme=dme,
            lesions=lesions,
            sha256=sha,
            **common,
        )


def _finding(prob: float, threshold: float) -> BinaryFinding:
    prob = min(1.0, max(0.0, prob))
    return BinaryFinding(probability=prob, positive=prob >= threshold, threshold=threshold)


def load_predictor(
    folder: Path,
    threads: int | None = None,
    providers: Sequence[str] = (),
    *,
    runner: Runner | None = None,
    batch_size: int = 8,
) -> Predictor:
    """Open a bundle; threads default to all cores (the app sets them from
    `grader.intra_op_threads`; models/ reads no environment). With `runner`, the network
    runs there (model.onnx may then be absent from the folder)."""
    return Predictor(
        folder, threads=threads, providers=providers, batch_size=batch_size, runner=runner
    )


def render_overlay(
    crop: NDArray[np.uint8], lesion_map: Sequence[Sequence[float]], alpha: float = 0.45
) -> bytes:
    """PNG of the raw crop with one lesion map (values 0-1) as a red heat overlay."""
    side = crop.shape[0]
    heat = np.asarray(lesion_map, dtype=np.float32)
    if heat.ndim != 2:
        raise BadImage("lesion map must be two-dimensional")
    up = (
        np.asarray(
            Image.fromarray((np.clip(heat, 0, 1) * 255).astype(np.uint8)).resize(
                (side, side), Image.Resampling.BILINEAR
            ),
            dtype=np.float32,
        )[..., None]
        / 255.0
    )
    red = np.zeros_like(crop, dtype=np.float32)
    red[..., 0] = 255.0
    out = crop.astype(np.float32) * (1 - alpha * up) + red * (alpha * up)
    buf = io.BytesIO()
    Image.fromarray(np.clip(out, 0, 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()
