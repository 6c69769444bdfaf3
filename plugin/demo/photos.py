"""The demo's fundus photographs: read at run time from the shared data, never copied here.

Source: fundus/srahim-dr600 (S. Rahim, "Retinal Fundus Image Dataset for Diabetic
Retinopathy Detection", 2025, GitHub SRahimDR/DR-image-dataset), licensed for academic use
with attribution only; redistribution is not granted, so this repository holds no photo.
The data root is $DEEPDR_DATA_DIR, else ../shared/data beside the repository. Without it
the demo still runs, with no photographs attached (and says so).
"""

from __future__ import annotations

import csv
import os
import random
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR_ENV = "DEEPDR_DATA_DIR"
SRAHIM = Path("fundus") / "srahim-dr600"
ATTRIBUTION = (
    "Fundus photographs: S. Rahim, Retinal Fundus Image Dataset for Diabetic Retinopathy "
    "Detection (2025), github.com/SRahimDR/DR-image-dataset; academic use with attribution."
)
ICDR_NAMES = ("no DR", "mild NPDR", "moderate NPDR", "severe NPDR", "proliferative DR")


def data_dir() -> Path:
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@dataclass(frozen=True)
class Photo:
    """One labelled photograph: the file and what the dataset's graders said about it."""

    path: Path
    name: str  # "srahim-dr600/Patient001_L.jpg": the demo's identifier, no PHI
    eye: str  # left | right
    dr_grade: int  # ICDR 0-4
    maculopathy: bool | None
    referable: bool

    @property
    def grade_text(self) -> str:
        mac = {True: "with maculopathy", False: "no maculopathy", None: "maculopathy n/a"}
        return f"ICDR {self.dr_grade} ({ICDR_NAMES[self.dr_grade]}), {mac[self.maculopathy]}"


class PhotoLibrary:
    """Both-eye pairs from labels.csv, chosen by the worse eye's grade (test split first,
    so the demo shows photographs the reference grader was not trained on)."""

    def __init__(self, root: Path) -> None:
        self.root = root / SRAHIM
        self._pairs: dict[str, dict[str, Photo]] = {}
        self._split: dict[str, str] = {}
        labels = self.root / "labels.csv"
        with labels.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                path = self.root / "images" / row["image"]
                if not path.is_file():
                    continue
                eye = "left" if row["eye"].upper() == "L" else "right"
                mac = row.get("maculopathy", "")
                photo = Photo(
                    path=path,
                    name=f"{SRAHIM.name}/{row['image']}",
                    eye=eye,
                    dr_grade=int(row["dr_grade"]),
                    maculopathy=None if mac == "" else mac == "1",
                    referable=row.get("referable_dr") == "1",
                )
                self._pairs.setdefault(row["patient_id"], {})[eye] = photo
                self._split[row["patient_id"]] = row.get("split", "")

    @classmethod
    def open(cls, root: Path | None = None) -> PhotoLibrary | None:
        """The library at `root` (default: data_dir()); None when the data is not there."""
        root = root or data_dir()
        if not (root / SRAHIM / "labels.csv").is_file():
            return None
        lib = cls(root)
        return lib if lib._pairs else None

    def pick(
        self, rng: random.Random, worst_grade: int, maculopathy: bool | None = None
    ) -> dict[str, Photo]:
        """A pair of eyes whose worse eye has `worst_grade` (and, when asked, maculopathy in
        at least one eye); the nearest grade when none matches."""

        def fits(pair: dict[str, Photo], grade: int) -> bool:
            if len(pair) != 2 or max(p.dr_grade for p in pair.values()) != grade:
                return False
            if maculopathy is None:
                return True
            return any(p.maculopathy for p in pair.values()) == maculopathy

        for delta in range(5):
            for grade in sorted({worst_grade - delta, worst_grade + delta}):
                for split in ("test", "valid", "train", ""):
                    ids = sorted(
                        pid
                        for pid, pair in self._pairs.items()
                        if self._split.get(pid, "") == split and fits(pair, grade)
                    )
                    if ids:
                        return dict(self._pairs[rng.choice(ids)])
        raise LookupError("no photograph pair in the library")
