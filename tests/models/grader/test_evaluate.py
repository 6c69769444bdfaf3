"""Evaluation semantics: rejected images are misses, never dropped; labels are checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.grader.evaluate import LabelRow, LabelsError, evaluate, read_labels, summarise
from models.grader.predict import Predictor
from models.grader.result import BinaryFinding, DrGrade, ImageGrading, ModelInfo, Quality

MODEL = ModelInfo(name="m", version="1")


def graded(image: str, grade: int, p_ref: float) -> ImageGrading:
    probs = [0.0] * 5
    probs[grade] = 1.0
    return ImageGrading(
        image_id=image,
        model=MODEL,
        quality=Quality(gradable=True, score=0.9),
        dr_grade=DrGrade(probabilities=tuple(probs), grade=grade),  # type: ignore[arg-type]
        referable=BinaryFinding(probability=p_ref, positive=p_ref >= 0.5, threshold=0.5),
    )


def rejected(image: str) -> ImageGrading:
    return ImageGrading(
        image_id=image, model=MODEL, quality=Quality(gradable=False, score=0.1, reasons=("blur",))
    )


def row(image: str, grade: int, patient: str | None = None) -> LabelRow:
    return LabelRow(image, grade, int(grade >= 2), None, patient, None)


def test_rejected_referable_image_is_a_miss() -> None:
    rows = [row("a", 0), row("b", 3), row("c", 2), row("d", 0)]
    gr = [graded("a", 0, 0.1), graded("b", 3, 0.9), rejected("c"), rejected("d")]
    ev = summarise(rows, gr, threshold=0.5)
    assert ev.n_images == 4 and ev.n_rejected == 2
    assert ev.rejected_reasons == {"blur": 2}
    ref = ev.referable
    assert (ref["tp"], ref["fn"], ref["tn"], ref["fp"]) == (1, 1, 2, 0)
    # c (referable, rejected) ranks below a and ties the rejected negative d:
    # pairs (b,a)=1 (b,d)=1 (c,a)=0 (c,d)=0.5 -> 0.625, where dropping c and d gives 1.0.
    assert ref["auc"] == 0.625
    assert ev.gradable_only["n"] == 2 and ev.gradable_only["referable_auc"] == 1.0
    assert ev.grade["rejected_by_true_grade"] == [1, 0, 1, 0, 0]
    assert sum(map(sum, ev.grade["confusion_gradable"])) == 2


def test_patient_level_takes_the_worst_eye() -> None:
    rows = [row("a", 0, "p1"), row("b", 2, "p1"), row("c", 0, "p2"), row("d", 0, "p2")]
    gr = [graded("a", 0, 0.2), graded("b", 2, 0.8), graded("c", 0, 0.3), rejected("d")]
    ev = summarise(rows, gr, threshold=0.5)
    assert ev.patient is not None
    assert ev.patient["n_patients"] == 2 and ev.patient["tp"] == 1 and ev.patient["tn"] == 1


def test_no_patient_ids_no_patient_block() -> None:
    ev = summarise([row("a", 0), row("b", 2)], [graded("a", 0, 0.1), graded("b", 2, 0.9)], 0.5)
    assert ev.patient is None


def test_labels_need_image_and_grade(tmp_path: Path) -> None:
    p = tmp_path / "labels.csv"
    p.write_text("image,grade\nx.jpg,1\n")
    with pytest.raises(LabelsError, match="missing column"):
        read_labels(p)
    p.write_text("image,dr_grade\nx.jpg,7\n")
    with pytest.raises(LabelsError, match="0-4"):
        read_labels(p)
    p.write_text("image,dr_grade\nx.jpg,two\n")
    with pytest.raises(LabelsError, match="not a number"):
        read_labels(p)


def test_referable_defaults_from_grade_and_maculopathy(tmp_path: Path) -> None:
    p = tmp_path / "labels.csv"
    p.write_text("image,dr_grade,maculopathy\na.jpg,1,1\nb.jpg,1,0\nc.jpg,2,\n")
    assert [r.referable for r in read_labels(p)] == [1, 0, 1]


def test_split_filter(tmp_path: Path) -> None:
    p = tmp_path / "labels.csv"
    p.write_text("image,dr_grade,split\na.jpg,1,test\nb.jpg,1,train\n")
    assert [r.image for r in read_labels(p, "test")] == ["a.jpg"]
    q = tmp_path / "nosplit.csv"
    q.write_text("image,dr_grade\na.jpg,1\n")
    with pytest.raises(LabelsError, match="no split column"):
        read_labels(q, "test")


def test_missing_images_are_bad_input(tiny_grader_bundle: Path, tmp_path: Path) -> None:
    p = tmp_path / "labels.csv"
    p.write_text("image,dr_grade\nnot-here.jpg,1\n")
    with pytest.raises(LabelsError, match="not found"):
        evaluate(Predictor(tiny_grader_bundle, threads=1), p, tmp_path)


def test_evaluate_on_real_split(tiny_grader_bundle: Path, fundus_dir: Path) -> None:
    ev = evaluate(
        Predictor(tiny_grader_bundle, threads=1),
        fundus_dir / "srahim-dr600/labels.csv",
        fundus_dir / "srahim-dr600/images",
        split="test",
    )
    assert ev.n_images == 92 and ev.referable["positives"] == 40
    assert ev.patient is not None and ev.patient["n_patients"] == 46
    assert ev.dme is not None and len(ev.per_image) == 92
