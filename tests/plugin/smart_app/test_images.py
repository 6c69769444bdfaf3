"""Lesion-map overlays (transparent PNGs over the grader's crop) and photo rendering."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from models.clinical_facts import ImageSourceKind
from models.grader.result import ImageGrading, Laterality, LesionFinding, ModelInfo
from plugin.imaging.results import RetrievedImage
from plugin.smart_app.images import lesion_keys_with_maps, lesion_overlay, render


def grading(**lesions: LesionFinding) -> ImageGrading:
    return ImageGrading(
        image_id="i",
        laterality=Laterality.LEFT,
        model=ModelInfo(name="m", version="1"),
        lesions=lesions,
    )


def test_overlay_is_transparent_except_where_the_map_is_high() -> None:
    hot = ((0.0, 0.0), (0.0, 1.0))  # bottom-right quadrant
    g = grading(
        MA=LesionFinding(probability=0.9, present=True, map=hot),
        HE=LesionFinding(probability=0.1, present=False),
    )
    assert lesion_keys_with_maps(g) == ["MA"]
    png = lesion_overlay(g, ["MA", "HE"], 64)
    assert png is not None
    rgba = np.asarray(Image.open(io.BytesIO(png)))
    assert rgba.shape == (64, 64, 4)
    assert rgba[2, 2, 3] == 0  # top-left: nothing
    assert rgba[60, 60, 3] > 150 and rgba[60, 60, 0] == 255  # bottom-right: opaque red


def test_no_map_no_overlay() -> None:
    g = grading(MA=LesionFinding(probability=0.9, present=True))
    assert lesion_overlay(g, ["MA"], 64) is None
    assert lesion_overlay(grading(), ["EX"], 64) is None


def test_render_gives_a_jpeg() -> None:
    rgb = np.zeros((300, 400, 3), np.uint8)
    rgb[50:250, 100:300] = (200, 90, 40)
    image = RetrievedImage(
        image_id="i",
        source_ref="Media/1",
        source_kind=ImageSourceKind.MEDIA,
        laterality=Laterality.LEFT,
        laterality_source="test",
        acquired=None,
        rgb=rgb,
        sha256="0" * 64,
    )
    out = render(image, "thumb")
    decoded = Image.open(io.BytesIO(out.jpeg))
    assert decoded.format == "JPEG" and max(decoded.size) <= 160


def test_a_diffuse_low_map_leaves_the_photograph_clear() -> None:
    # The reference model puts 0.2-0.3 over most of the field: that is no finding.
    low = tuple(tuple(0.3 for _ in range(4)) for _ in range(4))
    g = grading(MA=LesionFinding(probability=0.4, present=False, map=low))
    png = lesion_overlay(g, ["MA"], 64)
    assert png is not None
    assert int(np.asarray(Image.open(io.BytesIO(png)))[..., 3].max()) == 0


def test_likely_lesions_are_outlined_in_white() -> None:
    cells = [[0.0] * 8 for _ in range(8)]
    for y in range(2, 6):
        for x in range(2, 6):
            cells[y][x] = 0.9  # a likely lesion in the middle
    g = grading(EX=LesionFinding(probability=0.9, present=True, map=tuple(map(tuple, cells))))
    png = lesion_overlay(g, ["EX"], 64)
    assert png is not None
    rgba = np.asarray(Image.open(io.BytesIO(png)))
    white = np.all(rgba == (255, 255, 255, 255), axis=-1)
    assert white.any() and not white[32, 32] and not white[2, 2]  # a ring, not a fill
    ys, xs = np.nonzero(white)
    assert 8 < ys.min() < 32 < ys.max() < 56 and 8 < xs.min() < 32 < xs.max() < 56
    assert rgba[32, 32, 3] > 0 and rgba[32, 32, 0] == 255  # shaded inside
