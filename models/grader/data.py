"""Training data: the three shared fundus folders as typed records, and a one-off cache of
raw square crops at the training size (so epochs never re-decode JPEGs).

The repository never holds the images: they are read from the shared data folder
(`config.default_data_dir()`, overridable with DEEPDR_DATA_DIR or --data-dir).
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from models.grader.errors import BadImage
from models.grader.preprocess import FieldNotFound, crop_to_field, warp_square
from models.grader.result import LESION_KEYS

UNKNOWN = -1
EYEPACS = "eyepacs-eq256"
SRAHIM = "srahim-dr600"
IDRID = "idrid-seg54"
SOURCES = (EYEPACS, SRAHIM, IDRID)
SOURCE_SHORT = {EYEPACS: "eyepacs", SRAHIM: "srahim", IDRID: "idrid"}


@dataclass(frozen=True)
class Record:
    key: str  # "<source>/<image>", unique
    path: Path
    source: str
    split: str
    patient_id: str
    eye: str
    grade: int  # 0-4 or UNKNOWN
    referable: int  # 0/1 or UNKNOWN
    dme: int  # 0/1 or UNKNOWN
    lesions: tuple[int, int, int, int]  # MA, HE, EX, SE presence: 0/1 or UNKNOWN
    mask_paths: tuple[Path | None, ...] = ()


def _int_or_unknown(value: str | None) -> int:
    value = (value or "").strip()
    return int(float(value)) if value else UNKNOWN


def weak_lesion_labels(grade: int, maculopathy: int) -> tuple[int, int, int, int]:
    """Image-level lesion presence implied by the ICDR grade: no DR -> no lesions; mild
    NPDR -> microaneurysms only (exudates unknown when maculopathy was reported)."""
    if grade == 0:
        return (0, 0, 0, 0)
    if grade == 1:
        return (1, 0, UNKNOWN if maculopathy == 1 else 0, 0)
    return (UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def load_records(data_dir: Path) -> list[Record]:
    """All labelled images of the three shared folders under `data_dir`/fundus."""
    root = data_dir / "fundus"
    if not root.is_dir():
        raise FileNotFoundError(f"shared fundus data not found under {root}")
    records: list[Record] = []
    for row in _read_csv(root / EYEPACS / "labels.csv"):
        grade = int(row["dr_grade"])
        dme = 0 if grade == 0 else UNKNOWN  # no DR implies no maculopathy; else unlabelled
        records.append(
            Record(
                key=f"{EYEPACS}/{row['image']}",
                path=root / EYEPACS / row["image"],
                source=EYEPACS,
                split=row["split"],
                patient_id=f"E{row['patient_id']}",
                eye=row["eye"],
                grade=grade,
                referable=int(row["referable_dr"]),
                dme=dme,
                lesions=weak_lesion_labels(grade, dme),
            )
        )
    for row in _read_csv(root / SRAHIM / "labels.csv"):
        grade = int(row["dr_grade"])
        macul = _int_or_unknown(row["maculopathy"])
        records.append(
            Record(
                key=f"{SRAHIM}/{row['image']}",
                path=root / SRAHIM / "images" / row["image"],
                source=SRAHIM,
                split=row["split"],
                patient_id=f"S{row['patient_id']}",
                eye=row["eye"],
                grade=grade,
                referable=int(row["referable_dr"]),
                dme=macul,
                lesions=weak_lesion_labels(grade, macul),
            )
        )
    for row in _read_csv(root / IDRID / "labels.csv"):
        name = row["image"]
        masks = tuple(
            (root / IDRID / "masks" / f"{name}_{k}.png") if row[f"has_{k}"] == "1" else None
            for k in LESION_KEYS
        )
        records.append(
            Record(
                key=f"{IDRID}/{name}",
                path=root / IDRID / "images" / f"{name}.jpg",
                source=IDRID,
                split="train",
                patient_id=f"I{name}",
                eye="",
                grade=UNKNOWN,
                referable=UNKNOWN,
                dme=UNKNOWN,
                lesions=tuple(int(row[f"has_{k}"]) for k in LESION_KEYS),  # type: ignore[arg-type]
                mask_paths=masks,
            )
        )
    return records


def read_rgb(path: Path) -> NDArray[np.uint8]:
    """Decode a trusted training image (serving uses predict.load_image's checks)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise BadImage(f"cannot decode {path.name}")
    return np.ascontiguousarray(bgr[..., ::-1])


@dataclass
class CropCache:
    """Raw crops of many records at one side: images (N,S,S,3), valid (N,S,S), lesion
    masks (M,4,S,S; 0-255 coverage) for the M records that have masks, and mask_row (N,):
    the row of each record in `masks`, or -1."""

    keys: list[str]
    images: NDArray[np.uint8]
    valid: NDArray[np.uint8]
    masks: NDArray[np.uint8]
    mask_row: NDArray[np.int64]
    skipped: dict[str, str]

    def index(self) -> dict[str, int]:
        return {k: i for i, k in enumerate(self.keys)}


def _cache_id(records: list[Record], side: int) -> str:
    h = hashlib.sha256(f"v2|{side}".encode())
    for key in sorted(r.key for r in records):  # order-independent
        h.update(key.encode())
    return h.hexdigest()[:12]


def build_cache(
    records: list[Record], side: int, cache_dir: Path, progress: bool = True
) -> CropCache:
    """Crop every record once (or load the cache built before for the same records)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    stem = cache_dir / f"crops-{side}-{_cache_id(records, side)}"
    if (stem.with_suffix(".json")).is_file():
        meta = json.loads(stem.with_suffix(".json").read_text())
        arrays = np.load(stem.with_suffix(".npz"))
        return CropCache(
            keys=meta["keys"],
            skipped=meta["skipped"],
            images=arrays["images"],
            valid=arrays["valid"],
            masks=arrays["masks"],
            mask_row=arrays["mask_row"],
        )
    from tqdm import tqdm

    keys: list[str] = []
    skipped: dict[str, str] = {}
    images: list[NDArray[np.uint8]] = []
    valids: list[NDArray[np.uint8]] = []
    masks: list[NDArray[np.uint8]] = []
    mask_row: list[int] = []
    for r in tqdm(records, desc=f"cropping at {side}px", disable=not progress):
        try:
            rgb = read_rgb(r.path)
            crop = crop_to_field(rgb, side)
        except (BadImage, FieldNotFound) as exc:
            skipped[r.key] = str(exc)
            continue
        if any(mp is not None for mp in r.mask_paths):
            lesion = np.zeros((len(LESION_KEYS), side, side), np.uint8)
            for j, mp in enumerate(r.mask_paths):
                if mp is not None:
                    m = np.asarray(cv2.imread(str(mp), cv2.IMREAD_GRAYSCALE), np.uint8)
                    lesion[j] = warp_square(m, crop.field, side)
            mask_row.append(len(masks))
            masks.append(lesion)
        else:
            mask_row.append(-1)
        keys.append(r.key)
        images.append(crop.image)
        valids.append(crop.valid)
    mask_arr = np.stack(masks) if masks else np.zeros((0, len(LESION_KEYS), side, side), np.uint8)
    cache = CropCache(
        keys=keys,
        images=np.stack(images),
        valid=np.stack(valids),
        masks=mask_arr,
        mask_row=np.array(mask_row, np.int64),
        skipped=skipped,
    )
    np.savez(
        stem.with_suffix(".npz"),
        images=cache.images,
        valid=cache.valid,
        masks=cache.masks,
        mask_row=cache.mask_row,
    )
    stem.with_suffix(".json").write_text(json.dumps({"keys": keys, "skipped": skipped}))
    return cache
