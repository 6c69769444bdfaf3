"""Bundle metadata: validated at load, checked against the ONNX graph, mismatches refused,
bundles with fewer outputs accepted when their metadata says so."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from models.grader.bundle import Metadata, OutputKind, default_bundle, read_metadata
from models.grader.errors import ModelUnavailable
from models.grader.predict import Predictor


def copy_bundle(src: Path, dst: Path, **changes: object) -> Path:
    shutil.copytree(src, dst)
    meta = json.loads((dst / "metadata.json").read_text())
    meta.update(changes)
    (dst / "metadata.json").write_text(json.dumps(meta))
    return dst


def test_tiny_bundle_loads(tiny_grader_bundle: Path) -> None:
    p = Predictor(tiny_grader_bundle, threads=1)
    assert p.model.name == "tiny" and p.side == 64
    assert p.provider == "CPUExecutionProvider"


def test_metadata_without_thresholds_is_refused(tiny_grader_bundle: Path, tmp_path: Path) -> None:
    b = copy_bundle(tiny_grader_bundle, tmp_path / "b")
    meta = json.loads((b / "metadata.json").read_text())
    del meta["thresholds"]
    (b / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelUnavailable, match="invalid metadata.json"):
        read_metadata(b)


def test_not_json(tmp_path: Path) -> None:
    (tmp_path / "metadata.json").write_text("{nope")
    with pytest.raises(ModelUnavailable, match="invalid metadata.json"):
        read_metadata(tmp_path)


def test_declared_output_missing_from_the_model(tiny_grader_bundle: Path, tmp_path: Path) -> None:
    meta = json.loads((tiny_grader_bundle / "metadata.json").read_text())
    meta["outputs"][1]["name"] = "referable_probability"
    b = copy_bundle(tiny_grader_bundle, tmp_path / "b", outputs=meta["outputs"])
    with pytest.raises(ModelUnavailable, match="referable_probability.*not in the model"):
        Predictor(b)


def test_input_size_mismatch(tiny_grader_bundle: Path, tmp_path: Path) -> None:
    b = copy_bundle(
        tiny_grader_bundle, tmp_path / "b", input={"name": "image", "shape": ["batch", 3, 128, 128]}
    )
    with pytest.raises(ModelUnavailable, match="does not match metadata"):
        Predictor(b)


def test_output_shape_mismatch(tiny_grader_bundle: Path, tmp_path: Path) -> None:
    meta = json.loads((tiny_grader_bundle / "metadata.json").read_text())
    meta["outputs"][5]["shape"] = ["batch", 4, 8, 8]
    b = copy_bundle(tiny_grader_bundle, tmp_path / "b", outputs=meta["outputs"])
    with pytest.raises(ModelUnavailable, match="lesion_maps has shape"):
        Predictor(b)


def test_missing_model_file(tiny_grader_bundle: Path, tmp_path: Path) -> None:
    b = copy_bundle(tiny_grader_bundle, tmp_path / "b")
    (b / "model.onnx").unlink()
    with pytest.raises(ModelUnavailable, match="model.onnx missing"):
        Predictor(b)


def test_corrupt_model_file(tiny_grader_bundle: Path, tmp_path: Path) -> None:
    b = copy_bundle(tiny_grader_bundle, tmp_path / "b")
    (b / "model.onnx").write_bytes(b"not onnx")
    with pytest.raises(ModelUnavailable, match="cannot be loaded"):
        Predictor(b)


def test_duplicate_output_kinds_are_invalid(tiny_grader_bundle: Path) -> None:
    meta = json.loads((tiny_grader_bundle / "metadata.json").read_text())
    meta["outputs"].append({"name": "again", "kind": "grade_probs", "shape": ["batch", 5]})
    with pytest.raises(ValueError, match="once"):
        Metadata.model_validate(meta)


def grade_only_bundle(folder: Path) -> Path:
    """Another team's bundle: a different input name and size, DR grade output only."""
    w = numpy_helper.from_array(np.array([[3.0, 1, 0, -1, -3]] * 3, np.float32), "w")
    nodes = [
        helper.make_node("GlobalAveragePool", ["pixels"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["f"]),
        helper.make_node("MatMul", ["f", "w"], ["z"]),
        helper.make_node("Softmax", ["z"], ["icdr"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "grade-only",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["n", 3, 96, 96])],
        [helper.make_tensor_value_info("icdr", TensorProto.FLOAT, ["n", 5])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    folder.mkdir()
    onnx.save(model, str(folder / "model.onnx"))
    meta = {
        "name": "other-team",
        "version": "7",
        "input": {"name": "pixels", "shape": ["n", 3, 96, 96]},
        "outputs": [{"name": "icdr", "kind": "grade_probs", "shape": ["n", 5]}],
        "thresholds": {"referable": 0.3},
    }
    (folder / "metadata.json").write_text(json.dumps(meta))
    return folder


def test_grade_only_bundle_works(tmp_path: Path, fundus_dir: Path) -> None:
    from models.grader.images import load_image

    p = Predictor(grade_only_bundle(tmp_path / "other"))
    assert p.meta.output(OutputKind.LESION_MAPS) is None
    rgb = load_image(fundus_dir / "srahim-dr600/images/Patient001_L.jpg")
    (g,) = p.grade([rgb], image_ids=["x"])
    assert g.gradable and g.dr_grade is not None
    assert g.referable is not None  # derived from P(grade >= 2)
    assert abs(g.referable.probability - sum(g.dr_grade.probabilities[2:])) < 1e-6
    assert g.dme is None and g.lesions == {}


def test_shipped_bundle_if_any_is_valid() -> None:
    folder = default_bundle()
    if folder is None:
        pytest.skip("no bundle shipped yet under models/grader/bundles/")
    p = Predictor(folder, threads=1)
    total = sum(f.stat().st_size for f in folder.iterdir())
    assert total <= 30 * 1024 * 1024
    assert (folder / "MODEL_CARD.md").is_file()
    assert p.meta.thresholds.how_chosen


@pytest.mark.slow
def test_shipped_bundle_reproduces_its_model_card(fundus_dir: Path) -> None:
    """`deepdr-fhir evaluate` on the SRahim test split gives the card's figures."""
    from models.grader.evaluate import evaluate

    folder = default_bundle()
    if folder is None:
        pytest.skip("no bundle shipped yet under models/grader/bundles/")
    p = Predictor(folder, threads=2)
    card = p.meta.metrics["srahim-test"]
    ev = evaluate(
        p, fundus_dir / "srahim-dr600/labels.csv", fundus_dir / "srahim-dr600/images", "test"
    ).as_dict()
    assert ev["n_images"] == card["n_images"] and ev["n_rejected"] == card["n_rejected"]
    assert abs(ev["referable"]["auc"] - card["referable"]["auc"]) < 0.005
    assert abs(ev["grade"]["quadratic_kappa"] - card["grade"]["quadratic_kappa"]) < 0.01
    assert (folder / "MODEL_CARD.md").read_text().count(f"{card['referable']['auc']:.3f}") >= 1
