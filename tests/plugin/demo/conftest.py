"""A small photo library in a temporary folder, laid out like the shared data
(fundus/srahim-dr600/labels.csv + images/), so the demo tests do not depend on it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PIL import Image

from plugin.demo.photos import PhotoLibrary

# (patient, eye, dr_grade, maculopathy, split): every grade, with and without maculopathy.
ROWS = [
    ("P001", "L", 0, "0", "test"),
    ("P001", "R", 0, "0", "test"),
    ("P002", "L", 1, "0", "test"),
    ("P002", "R", 0, "0", "test"),
    ("P003", "L", 2, "1", "test"),
    ("P003", "R", 2, "0", "test"),
    ("P004", "L", 3, "0", "valid"),
    ("P004", "R", 3, "1", "valid"),
    ("P005", "L", 4, "", "train"),
    ("P005", "R", 4, "", "train"),
    ("P006", "L", 2, "0", "train"),
    ("P006", "R", 1, "0", "train"),
]


@pytest.fixture(scope="session")
def photo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    folder = root / "fundus" / "srahim-dr600"
    (folder / "images").mkdir(parents=True)
    with (folder / "labels.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "image",
                "patient_id",
                "eye",
                "split",
                "dr_grade",
                "quality",
                "maculopathy",
                "aded",
                "referable_dr",
            ]
        )
        for pid, eye, grade, mac, split in ROWS:
            name = f"Patient{pid[1:]}_{eye}.jpg"
            Image.new("RGB", (32, 24), (grade * 40, 20, 10)).save(folder / "images" / name, "JPEG")
            referable = int(grade >= 2 or mac == "1")
            w.writerow([name, pid, eye, split, grade, "", mac, 0, referable])
    return root


@pytest.fixture
def library(photo_root: Path) -> PhotoLibrary:
    lib = PhotoLibrary.open(photo_root)
    assert lib is not None
    return lib
