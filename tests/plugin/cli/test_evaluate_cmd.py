"""`deepdr-fhir evaluate --labels CSV --images DIR [--split S] [--json] [--bundle DIR]`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from models.grader.config import default_data_dir
from plugin.cli.main import main

SRAHIM = default_data_dir() / "fundus" / "srahim-dr600"


@pytest.fixture
def srahim() -> Path:
    if not (SRAHIM / "labels.csv").is_file():
        pytest.skip(f"shared fundus data not found ({SRAHIM}); set DEEPDR_DATA_DIR")
    return SRAHIM


def test_text_report_on_the_srahim_test_split(
    tiny_grader_bundle: Path, srahim: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "evaluate",
            "--bundle",
            str(tiny_grader_bundle),
            "--labels",
            str(srahim / "labels.csv"),
            "--images",
            str(srahim / "images"),
            "--split",
            "test",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert "92 images" in out and "AUC" in out and "95% CI" in out
    assert "quadratic kappa" in out and "patient level (46 patients" in out
    assert "sensitivity" in out and "specificity" in out


def test_json_report(
    tmp_path: Path, tiny_grader_bundle: Path, srahim: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A small labelled folder of our own: two fundus photos and a cat (rejected, referable).
    from skimage import data

    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("Patient001_L.jpg", "Patient001_R.jpg"):
        (folder / name).write_bytes((srahim / "images" / name).read_bytes())
    Image.fromarray(data.chelsea()).save(folder / "cat.jpg")
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "image,dr_grade,patient_id\nPatient001_L.jpg,0,p1\nPatient001_R.jpg,0,p1\ncat.jpg,3,p2\n"
    )
    code = main(
        [
            "evaluate",
            "--json",
            "--per-image",
            "--bundle",
            str(tiny_grader_bundle),
            "--labels",
            str(labels),
            "--images",
            str(folder),
        ]
    )
    out, _ = capsys.readouterr()
    assert code == 0
    report = json.loads(out)
    assert report["n_images"] == 3 and report["n_rejected"] == 1
    assert report["rejected_reasons"] == {"not a fundus photograph": 1}
    assert report["referable"]["fn"] == 1  # the rejected grade-3 image is a miss
    assert report["grade"]["rejected_by_true_grade"] == [0, 0, 0, 1, 0]
    assert len(report["grade"]["confusion_gradable"]) == 5
    assert report["patient"]["n_patients"] == 2
    assert [r["gradable"] for r in report["per_image"]] == [True, True, False]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("image,grade\na.jpg,1\n", "missing column"),
        ("image,dr_grade\na.jpg,9\n", "dr_grade must be 0-4"),
        ("image,dr_grade\nmissing.jpg,1\n", "not found"),
    ],
)
def test_bad_labels_are_one_line_exit_2(
    content: str,
    reason: str,
    tmp_path: Path,
    tiny_grader_bundle: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text(content)
    code = main(
        [
            "evaluate",
            "--bundle",
            str(tiny_grader_bundle),
            "--labels",
            str(labels),
            "--images",
            str(tmp_path),
        ]
    )
    _, err = capsys.readouterr()
    assert code == 2 and reason in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_labels_or_folder(
    tmp_path: Path, tiny_grader_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "evaluate",
            "--bundle",
            str(tiny_grader_bundle),
            "--labels",
            str(tmp_path / "x.csv"),
            "--images",
            str(tmp_path),
        ]
    )
    assert code == 2 and "no such file" in capsys.readouterr().err
    labels = tmp_path / "labels.csv"
    labels.write_text("image,dr_grade\na.jpg,1\n")
    code = main(
        [
            "evaluate",
            "--bundle",
            str(tiny_grader_bundle),
            "--labels",
            str(labels),
            "--images",
            str(tmp_path / "nope"),
        ]
    )
    assert code == 2 and "no such folder" in capsys.readouterr().err
