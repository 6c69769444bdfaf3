"""Generated data for the image-quality gate: no quality labels exist, so the gate is
calibrated and measured on photographs we degrade on purpose (defocus, underexposure,
overexposure, haze, shadow, low resolution) and on images that are not fundus
photographs at all (a cat, a document, blanks, noise, a plain orange disc).

Calibration: SRahim valid + the even-numbered EyePACS valid patients, one degraded copy
each (seed family 7). Held out: SRahim test + the odd-numbered EyePACS valid patients,
degraded with another seed family (9), plus the non-fundus images. Caveat: the
degradations are of the same kinds the network was trained to reject, so held-out
figures are an upper bound on real-world performance.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from models.grader import augment
from models.grader.data import EYEPACS, SRAHIM, Record
from models.grader.images import load_image
from models.grader.predict import Predictor

CALIBRATION_SEED = 7
HELD_OUT_SEED = 9
WORK_SIDE = 512


@dataclass(frozen=True)
class GateCase:
    rgb: NDArray[np.uint8]
    gradable: bool
    kind: str  # "clean", a degradation, or a non-fundus image name


def _shrink(rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    h, w = rgb.shape[:2]
    s = WORK_SIDE / max(h, w)
    if s >= 1:
        return rgb
    small = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    return np.asarray(small, np.uint8)


def _cases(records: list[Record], seed: int) -> Iterator[GateCase]:
    for i, r in enumerate(records):
        rgb = _shrink(load_image(r.path))
        yield GateCase(rgb, True, "clean")
        rng = np.random.default_rng([seed, i])
        kind = augment.DEGRADATIONS[i % len(augment.DEGRADATIONS)]
        valid = (rgb.max(axis=2) > 15).astype(np.uint8)
        yield GateCase(augment.degrade(rgb, valid, kind, rng), False, kind)


def _eyepacs_half(records: list[Record], parity: int) -> list[Record]:
    return [
        r
        for r in records
        if r.source == EYEPACS and r.split == "valid" and int(r.patient_id[1:]) % 2 == parity
    ]


def calibration_images(records: list[Record]) -> list[GateCase]:
    chosen = [r for r in records if r.source == SRAHIM and r.split == "valid"]
    chosen += _eyepacs_half(records, 0)
    return list(_cases(chosen, CALIBRATION_SEED))


def held_out_images(records: list[Record]) -> list[GateCase]:
    chosen = [r for r in records if r.source == SRAHIM and r.split == "test"]
    chosen += _eyepacs_half(records, 1)
    return list(_cases(chosen, HELD_OUT_SEED)) + non_fundus_images()


def render_document(width: int = 600, height: int = 800) -> NDArray[np.uint8]:
    """A white page with lines of text: the kind of upload a fundus grader must refuse."""
    page = Image.new("RGB", (width, height), (250, 250, 248))
    draw = ImageDraw.Draw(page)
    for i, y in enumerate(range(40, height - 40, 22)):
        draw.text(
            (40, y), f"Line {i}: referral letter, lorem ipsum dolor sit amet.", fill=(20, 20, 20)
        )
    return np.asarray(page, np.uint8)


def orange_disc(side: int = 512) -> NDArray[np.uint8]:
    """A plain orange disc on black: fundus-shaped, but no retina in it."""
    img = np.zeros((side, side, 3), np.uint8)
    cv2.circle(img, (side // 2, side // 2), int(side * 0.45), (200, 90, 30), -1)
    return img


def non_fundus_images() -> list[GateCase]:
    rng = np.random.default_rng(HELD_OUT_SEED)
    out = [
        GateCase(render_document(), False, "document"),
        GateCase(np.full((400, 600, 3), 255, np.uint8), False, "blank-white"),
        GateCase(np.zeros((400, 600, 3), np.uint8), False, "blank-black"),
        GateCase(np.full((400, 600, 3), 128, np.uint8), False, "blank-grey"),
        GateCase(rng.integers(0, 256, (400, 600, 3), dtype=np.uint8), False, "noise"),
        GateCase(
            np.tile(np.linspace(0, 255, 600, dtype=np.uint8)[None, :, None], (400, 1, 3)),
            False,
            "gradient",
        ),
        GateCase(orange_disc(), False, "orange-disc"),
    ]
    try:
        from skimage import data as samples
    except ImportError:  # scikit-image is a dev dependency
        return out
    for name in ("chelsea", "astronaut", "coffee", "rocket", "camera", "coins", "page", "text"):
        img = np.asarray(getattr(samples, name)(), np.uint8)
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        out.append(GateCase(np.ascontiguousarray(img[..., :3]), False, name))
    return out


def _grade(predictor: Predictor, cases: list[GateCase]) -> list[tuple[bool, float]]:
    gradings = predictor.grade([c.rgb for c in cases])
    return [(g.gradable, g.quality.score if g.quality else 0.0) for g in gradings]


def choose_threshold(predictor: Predictor, cases: list[GateCase]) -> tuple[float, dict[str, Any]]:
    """The quality threshold that best separates clean from degraded calibration photos
    (Youden's J; among equals the lowest, i.e. the most permissive). The predictor must
    run with quality threshold 0, so only the classical checks reject anything."""
    graded = _grade(predictor, cases)
    clean = np.array(
        [s if ok else -1.0 for (ok, s), c in zip(graded, cases, strict=True) if c.gradable]
    )
    bad = np.array(
        [s if ok else -1.0 for (ok, s), c in zip(graded, cases, strict=True) if not c.gradable]
    )
    best_j, threshold = -1.0, 0.5
    for t in np.unique(np.concatenate([clean[clean >= 0], [0.5]])):
        j = float((clean >= t).mean() + (bad < t).mean() - 1.0)
        if j > best_j + 1e-12:
            best_j, threshold = j, float(t)
    return threshold, {
        "rule": "Youden's J on clean vs degraded calibration photos",
        "clean": len(clean),
        "degraded": len(bad),
        "clean_kept_at_threshold": int((clean >= threshold).sum()),
        "degraded_rejected_at_threshold": int((bad < threshold).sum()),
    }


def held_out_report(predictor: Predictor, records: list[Record]) -> dict[str, Any]:
    cases = held_out_images(records)
    graded = _grade(predictor, cases)
    by_kind: dict[str, list[int]] = {}
    correct = 0
    for (ok, _), c in zip(graded, cases, strict=True):
        right = ok == c.gradable
        correct += right
        stats = by_kind.setdefault(c.kind, [0, 0])
        stats[0] += 1
        stats[1] += right
    clean = by_kind.get("clean", [0, 0])
    bad_total = sum(v[0] for k, v in by_kind.items() if k != "clean")
    bad_right = sum(v[1] for k, v in by_kind.items() if k != "clean")
    return {
        "n": len(cases),
        "accuracy": round(correct / len(cases), 4),
        "clean_kept_gradable": round(clean[1] / max(clean[0], 1), 4),
        "ungradable_rejected": round(bad_right / max(bad_total, 1), 4),
        "by_kind": {k: {"n": v[0], "correct": v[1]} for k, v in sorted(by_kind.items())},
    }
