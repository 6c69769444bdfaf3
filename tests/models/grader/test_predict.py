"""The onnxruntime predictor on a tiny bundle: results per image, gating, batching, maps,
patient-level summary, and no torch at serve time."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.grader.images import load_image
from models.grader.predict import NO_FUNDUS, Predictor, load_predictor, render_overlay
from models.grader.result import Laterality, PatientGrading

IMAGES = [
    "srahim-dr600/images/Patient001_L.jpg",
    "srahim-dr600/images/Patient001_R.jpg",
    "eyepacs-eq256/images/1162_left.jpg",
]


@pytest.fixture(scope="module")
def predictor(tiny_grader_bundle: Path) -> Predictor:
    return load_predictor(tiny_grader_bundle, threads=1)


@pytest.fixture(scope="module")
def photos(fundus_dir: Path) -> list[np.ndarray]:
    return [load_image(fundus_dir / name) for name in IMAGES]


def test_every_output_is_filled(predictor: Predictor, photos: list[np.ndarray]) -> None:
    results = predictor.grade(photos, image_ids=["a", "b", "c"])
    assert [g.image_id for g in results] == ["a", "b", "c"]
    for g in results:
        assert g.gradable and g.error is None
        assert g.dr_grade is not None and abs(sum(g.dr_grade.probabilities) - 1) < 1e-3
        assert g.referable is not None and g.referable.threshold == 0.5
        assert g.dme is not None
        assert set(g.lesions) == {"MA", "HE", "EX", "SE"}
        lmap = g.lesions["HE"].map
        assert lmap is not None and len(lmap) == 4 and len(lmap[0]) == 4
        assert g.model.name == "tiny"


def test_batch_equals_one_by_one(predictor: Predictor, photos: list[np.ndarray]) -> None:
    together = predictor.grade(photos)
    alone = [predictor.grade([p])[0] for p in photos]
    for a, b in zip(together, alone, strict=True):
        assert a.referable and b.referable
        assert abs(a.referable.probability - b.referable.probability) < 1e-5


def test_outputs_depend_on_the_image(predictor: Predictor, photos: list[np.ndarray]) -> None:
    a, _, c = predictor.grade(photos)
    assert a.dr_grade and c.dr_grade
    assert a.dr_grade.probabilities != c.dr_grade.probabilities


def test_a_cat_is_ungradable_not_an_error(predictor: Predictor) -> None:
    from skimage import data

    (g,) = predictor.grade([np.asarray(data.chelsea())], image_ids=["cat"])
    assert not g.gradable and g.error is None
    assert g.quality is not None and g.quality.reasons[0].startswith(NO_FUNDUS)
    assert g.dr_grade is None and g.referable is None


def test_underexposed_photo_fails_the_gate(predictor: Predictor, photos: list[np.ndarray]) -> None:
    dark = (photos[0].astype(np.float32) * 0.04).astype(np.uint8)
    (g,) = predictor.grade([dark])
    assert not g.gradable and g.quality is not None and g.quality.reasons


def test_patient_level_worst_gradable_image_per_eye(
    predictor: Predictor, photos: list[np.ndarray]
) -> None:
    from skimage import data

    results = predictor.grade(
        [photos[0], photos[1], np.asarray(data.chelsea())],
        image_ids=["l1", "r1", "r-cat"],
        lateralities=[Laterality.LEFT, Laterality.RIGHT, Laterality.RIGHT],
    )
    patient = PatientGrading.from_images(results, predictor.model)
    right = patient.eye(Laterality.RIGHT)
    assert right is not None and right.decisive_image_id == "r1"
    left = patient.eye(Laterality.LEFT)
    assert left is not None and left.decisive_image_id == "l1"


def test_grade_files_and_overlay(predictor: Predictor, fundus_dir: Path) -> None:
    (g,) = predictor.grade_files([fundus_dir / IMAGES[0]])
    assert g.image_id == Path(IMAGES[0]).name
    prepared = predictor.prepare(load_image(fundus_dir / IMAGES[0]))
    assert g.lesions["EX"].map is not None
    png = render_overlay(prepared.crop, g.lesions["EX"].map)
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.size == (64, 64)


def test_serving_never_imports_torch(tiny_grader_bundle: Path, fundus_dir: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from models.grader.predict import load_predictor\n"
        f"p = load_predictor(Path({str(tiny_grader_bundle)!r}), threads=1)\n"
        f"g = p.grade_files([Path({str(fundus_dir / IMAGES[0])!r})])\n"
        "assert g[0].gradable\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
