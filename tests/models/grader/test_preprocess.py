"""Preprocessing on real shared photographs, and rejection of things that are not fundi."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from models.grader.data import read_rgb
from models.grader.preprocess import (
    FieldNotFound,
    crop_to_field,
    find_field,
    normalise_colour,
    preprocess,
)

SAMPLES = [
    ("srahim-dr600/images/Patient001_L.jpg", (512, 343)),  # natural colour, circle cut
    ("srahim-dr600/images/Patient100_R.jpg", (512, 343)),
    ("eyepacs-eq256/images/1162_left.jpg", (256, 256)),  # equalised upstream
    ("eyepacs-eq256/images/12870_left.jpg", (256, 256)),  # black bands inside the circle
    ("idrid-seg54/images/IDRiD_01.jpg", (512, 512)),  # square crop, circle cut right
]


@pytest.mark.parametrize(("name", "size"), SAMPLES)
def test_field_found_on_real_photographs(
    fundus_dir: Path, name: str, size: tuple[int, int]
) -> None:
    rgb = read_rgb(fundus_dir / name)
    assert (rgb.shape[1], rgb.shape[0]) == size
    field = find_field(rgb)
    # The field is a disc about as wide as the frame's shorter side or more, near its centre.
    assert 0.45 * min(size) < field.radius < 0.75 * max(size)
    assert abs(field.cx - size[0] / 2) < 0.2 * size[0]
    assert abs(field.cy - size[1] / 2) < 0.2 * size[1]
    assert field.fill_inside > 0.8 and field.lit_outside < 0.2


def test_crop_is_square_with_field_in_the_middle(fundus_dir: Path) -> None:
    rgb = read_rgb(fundus_dir / "srahim-dr600/images/Patient001_L.jpg")
    crop = crop_to_field(rgb, 128)
    assert crop.image.shape == (128, 128, 3) and crop.image.dtype == np.uint8
    assert crop.valid.shape == (128, 128)
    # Corners are outside the circle; the centre is retina.
    assert crop.valid[0, 0] == 0 and crop.valid[64, 64] == 1
    # The camera cut the circle top and bottom: those rows are not valid field.
    assert crop.valid[1].sum() == 0 and crop.valid[64].sum() > 100


def test_padding_bands_inside_the_circle_are_not_field(fundus_dir: Path) -> None:
    rgb = read_rgb(fundus_dir / "eyepacs-eq256/images/12870_left.jpg")
    crop = crop_to_field(rgb, 256)
    black_rows = [y for y in range(256) if crop.valid[y].sum() == 0]
    assert any(10 < y < 60 for y in black_rows), "top padding band kept as field"


def test_normalised_images_from_two_sources_have_similar_statistics(fundus_dir: Path) -> None:
    """Equalisation inside the field maps both sources to the same intensity range."""
    stats = []
    for name in ("srahim-dr600/images/Patient001_L.jpg", "eyepacs-eq256/images/1162_left.jpg"):
        pp = preprocess(read_rgb(fundus_dir / name), 128)
        inside = pp.valid > 0
        stats.append([float(pp.image[..., c][inside].mean()) for c in range(3)])
    assert np.allclose(stats[0], stats[1], atol=12)
    assert all(110 < v < 146 for v in stats[0] + stats[1])


def test_normalise_greys_out_everything_outside_the_field(fundus_dir: Path) -> None:
    crop = crop_to_field(read_rgb(fundus_dir / "idrid-seg54/images/IDRiD_01.jpg"), 96)
    out = normalise_colour(crop.image, crop.valid)
    assert (out[0, 0] == 128).all() and (out[~(crop.valid > 0)] == 128).all()


def _document() -> np.ndarray:
    page = Image.new("RGB", (600, 800), (250, 250, 248))
    draw = ImageDraw.Draw(page)
    for y in range(40, 760, 22):
        draw.text((40, y), "Referral letter: lorem ipsum dolor sit amet, consectetur.", fill=0)
    return np.asarray(page)


def _cat() -> np.ndarray:
    from skimage import data

    return np.asarray(data.chelsea())


@pytest.mark.parametrize(
    "make",
    [
        _cat,
        _document,
        lambda: np.zeros((400, 600, 3), np.uint8),
        lambda: np.full((400, 600, 3), 255, np.uint8),
        lambda: np.full((400, 600, 3), 90, np.uint8),
    ],
    ids=["cat", "document", "blank-black", "blank-white", "blank-grey"],
)
def test_not_a_fundus_is_rejected(make: object) -> None:
    assert callable(make)
    with pytest.raises(FieldNotFound):
        find_field(make())


def test_tiny_image_is_rejected() -> None:
    with pytest.raises(FieldNotFound, match="too small"):
        find_field(np.zeros((8, 8, 3), np.uint8))
