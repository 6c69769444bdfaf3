"""Evaluate a grader bundle on a labelled folder of images.

labels.csv: `image,dr_grade` and optionally `referable_dr, maculopathy, patient_id, eye,
split`. `image` is a path relative to the images folder. referable_dr defaults to
"dr_grade >= 2, or maculopathy == 1".

Rejected images (no fundus field, failed quality gate, undecodable) are never dropped:
for the headline figures a rejected referable image is a miss (false negative, lowest
score in the AUC, predicted grade 0), a rejected non-referable image is not referred.
Figures on gradable images only are reported beside them.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.grader.errors import BadImage
from models.grader.images import load_image
from models.grader.metrics import binary_stats, bootstrap_ci, confusion, quadratic_kappa, roc_auc
from models.grader.predict import Predictor
from models.grader.result import ImageGrading

REJECTED_SCORE = -1.0


class LabelsError(ValueError):
    """The labels file or images folder cannot be used (message safe to show)."""


@dataclass(frozen=True)
class LabelRow:
    image: str
    dr_grade: int
    referable: int
    maculopathy: int | None
    patient_id: str | None
    eye: str | None


def _opt_int(value: str | None, column: str, line: int) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return int(float(value))
    except ValueError:
        raise LabelsError(f"line {line}: {column} {value!r} is not a number") from None


def read_labels(path: Path, split: str | None = None) -> list[LabelRow]:
    if not path.is_file():
        raise LabelsError(f"{path}: no such file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = set(reader.fieldnames or [])
            missing = {"image", "dr_grade"} - columns
            if missing:
                raise LabelsError(f"{path.name}: missing column(s) {', '.join(sorted(missing))}")
            if split is not None and "split" not in columns:
                raise LabelsError(f"{path.name}: --split given but the file has no split column")
            rows = []
            for line, r in enumerate(reader, start=2):
                if split is not None and (r.get("split") or "").strip() != split:
                    continue
                grade = _opt_int(r.get("dr_grade"), "dr_grade", line)
                if grade is None or not 0 <= grade <= 4:
                    raise LabelsError(f"line {line}: dr_grade must be 0-4")
                macul = _opt_int(r.get("maculopathy"), "maculopathy", line)
                ref = _opt_int(r.get("referable_dr"), "referable_dr", line)
                if ref is None:
                    ref = int(grade >= 2 or macul == 1)
                if not (r.get("image") or "").strip():
                    raise LabelsError(f"line {line}: empty image name")
                rows.append(
                    LabelRow(
                        image=r["image"].strip(),
                        dr_grade=grade,
                        referable=int(ref),
                        maculopathy=macul,
                        patient_id=(r.get("patient_id") or "").strip() or None,
                        eye=(r.get("eye") or "").strip() or None,
                    )
                )
    except UnicodeDecodeError:
        raise LabelsError(f"{path.name}: not UTF-8 text") from None
    except csv.Error as exc:
        raise LabelsError(f"{path.name}: not valid CSV ({exc})") from None
    if not rows:
        raise LabelsError(f"{path.name}: no rows" + (f" with split={split}" if split else ""))
    return rows


@dataclass
class Evaluation:
    n_images: int
    n_rejected: int
    rejected_reasons: dict[str, int]
    referable: dict[str, Any]
    grade: dict[str, Any]
    dme: dict[str, Any] | None
    patient: dict[str, Any] | None
    gradable_only: dict[str, Any]
    per_image: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self, with_images: bool = False) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if k != "per_image"}
        if with_images:
            out["per_image"] = self.per_image
        return out


def _r(x: float) -> float | None:
    return None if np.isnan(x) else round(float(x), 4)


def _auc_block(y: np.ndarray, s: np.ndarray, threshold: float, seed: int) -> dict[str, Any]:
    lo, hi = bootstrap_ci(y, s, n=1000, seed=seed)
    st = binary_stats(y, s >= threshold)
    return {
        "n": int(len(y)),
        "positives": int(y.sum()),
        "auc": _r(roc_auc(y, s)),
        "auc_ci95": [_r(lo), _r(hi)],
        "threshold": round(threshold, 4),
        "sensitivity": _r(st.sensitivity),
        "specificity": _r(st.specificity),
        "tp": st.tp,
        "fn": st.fn,
        "tn": st.tn,
        "fp": st.fp,
    }


def grade_rows(
    predictor: Predictor,
    rows: list[LabelRow],
    images_dir: Path,
    progress: Callable[[int, int], None] | None = None,
) -> list[ImageGrading]:
    """Grade every labelled image in batches. Missing files are bad input (LabelsError);
    undecodable files come back as gradings with `error` set."""
    paths = [images_dir / r.image for r in rows]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise LabelsError(
            f"{len(missing)} labelled image(s) not found under {images_dir}, "
            f"e.g. {missing[0].relative_to(images_dir)}"
        )
    out: list[ImageGrading] = []
    step = predictor.batch_size
    for start in range(0, len(rows), step):
        arrays, ids, errors = [], [], {}
        for p, r in zip(paths[start : start + step], rows[start : start + step], strict=True):
            try:
                arrays.append(load_image(p, draft_side=predictor.side))
                ids.append(r.image)
            except BadImage as exc:
                errors[r.image] = str(exc)
        graded = iter(predictor.grade(arrays, image_ids=ids))
        for r in rows[start : start + step]:
            if r.image in errors:
                out.append(
                    ImageGrading(image_id=r.image, model=predictor.model, error=errors[r.image])
                )
            else:
                out.append(next(graded))
        if progress:
            progress(len(out), len(rows))
    return out


def _reason(g: ImageGrading) -> str:
    if g.error:
        return "unreadable"
    if g.quality and g.quality.reasons:
        return g.quality.reasons[0].split(":")[0]
    return "ungradable"


def summarise(
    rows: list[LabelRow], gradings: list[ImageGrading], threshold: float, seed: int = 0
) -> Evaluation:
    ok = np.array([g.gradable and g.referable is not None for g in gradings])
    y_ref = np.array([r.referable for r in rows], bool)
    score = np.array(
        [
            g.referable.probability if (g.gradable and g.referable) else REJECTED_SCORE
            for g in gradings
        ]
    )
    truth = np.array([r.dr_grade for r in rows])
    pred = np.array([g.dr_grade.grade if (g.gradable and g.dr_grade) else 0 for g in gradings])
    reasons: dict[str, int] = {}
    for g in gradings:
        if not (g.gradable and g.referable is not None):
            reasons[_reason(g)] = reasons.get(_reason(g), 0) + 1
    rejected_by_grade = [int(((truth == k) & ~ok).sum()) for k in range(5)]
    grade_block = {
        "quadratic_kappa": _r(quadratic_kappa(truth, pred)),
        "accuracy": _r(float((truth == pred).mean())),
        "confusion_gradable": confusion(truth[ok], pred[ok]).tolist(),
        "rejected_by_true_grade": rejected_by_grade,
        "note": "rejected images counted as predicted grade 0",
    }
    dme_block = None
    has_dme = np.array([r.maculopathy is not None for r in rows])
    if has_dme.any() and any(g.dme is not None for g in gradings):
        y = np.array([r.maculopathy == 1 for r in rows])[has_dme]
        s = np.array(
            [g.dme.probability if (g.gradable and g.dme) else REJECTED_SCORE for g in gradings]
        )[has_dme]
        dme_th = next(
            (g.dme.threshold for g in gradings if g.dme and g.dme.threshold is not None), 0.5
        )
        dme_block = _auc_block(y, s, float(dme_th), seed)
    gradable_only = {
        "n": int(ok.sum()),
        "referable_auc": _r(roc_auc(y_ref[ok], score[ok])) if ok.any() else None,
        "quadratic_kappa": _r(quadratic_kappa(truth[ok], pred[ok])) if ok.any() else None,
    }
    per_image = [
        {
            "image": r.image,
            "dr_grade": r.dr_grade,
            "referable": r.referable,
            "predicted_grade": int(p) if o else None,
            "referable_probability": round(float(s), 4) if o else None,
            "gradable": bool(o),
            "reason": None if o else _reason(g),
        }
        for r, g, p, s, o in zip(rows, gradings, pred, score, ok, strict=True)
    ]
    return Evaluation(
        n_images=len(rows),
        n_rejected=int((~ok).sum()),
        rejected_reasons=reasons,
        referable=_auc_block(y_ref, score, threshold, seed),
        grade=grade_block,
        dme=dme_block,
        patient=_patient_level(rows, score, threshold, seed),
        gradable_only=gradable_only,
        per_image=per_image,
    )


def _patient_level(
    rows: list[LabelRow], score: np.ndarray, threshold: float, seed: int
) -> dict[str, Any] | None:
    """Per patient: the worst eye decides (max score over gradable images; a patient with
    no gradable image scores as rejected); truth is any referable image."""
    if not all(r.patient_id for r in rows):
        return None
    patients: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        patients.setdefault(r.patient_id or "", []).append(i)
    y = np.array([max(rows[i].referable for i in idx) for idx in patients.values()], bool)
    s = np.array([max(score[i] for i in idx) for idx in patients.values()])
    block = _auc_block(y, s, threshold, seed)
    block["n_patients"] = len(patients)
    block["patients_without_gradable_image"] = int((s == REJECTED_SCORE).sum())
    return block


def evaluate(
    predictor: Predictor,
    labels: Path,
    images_dir: Path,
    split: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Evaluation:
    if not images_dir.is_dir():
        raise LabelsError(f"{images_dir}: not a folder")
    rows = read_labels(labels, split)
    gradings = grade_rows(predictor, rows, images_dir, progress)
    return summarise(rows, gradings, predictor.meta.thresholds.referable)
