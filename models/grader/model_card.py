"""MODEL_CARD.md for a bundle, written from its metadata (so the card's figures are the
figures `deepdr-fhir evaluate` reproduces)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.grader.bundle import Metadata

DATA_SECTION = """\
## Training and evaluation data

- **EyePACS** (Kaggle "Diabetic Retinopathy Detection", 2015; images by EyePACS; Cuadros &
  Bresnick, J Diabetes Sci Technol 2009;3(3):509-516), a 5,000-image subset at 256 px,
  histogram-equalised upstream (`eyepacs-eq256`, from github.com/navjotk/diabetic-dissert,
  commit a21b834e). Train split (4,250) for training; valid split (750) reported. Kaggle
  competition rules apply (research, non-commercial).
- **SRahim DR600**: Rahim S. S., "Retinal Fundus Image Dataset for Diabetic Retinopathy
  Detection", 2025, github.com/SRahimDR/DR-image-dataset: 600 natural-colour photographs
  with ICDR grade and maculopathy. Train split (416) for training, valid split (92) for
  thresholds, test split (92) reported. Academic use with attribution only.
- **IDRiD** segmentation subset (54 images with MA/HE/EX/SE masks): P. Porwal et al.,
  "Indian Diabetic Retinopathy Image Dataset (IDRiD)", IEEE Dataport, 2018,
  doi:10.21227/H25W98, CC BY 4.0 (via github.com/qinghao1/idrid-1). Lesion maps and
  lesion presence.

The images are not in this repository; the bundle holds derived weights only. Weak
lesion labels: ICDR grade 0 implies no lesions, grade 1 implies microaneurysms only.
"""

FAILURE_MODES = """\
## Known failure modes and limits

- **Not validated on any external population.** The only natural-colour test data is
  92 SRahim photographs from one (undocumented) camera; EyePACS valid images are
  histogram-equalised at 256 px, unlike any camera output.
- **Low resolution.** The network sees a 256 px crop (the EyePACS training images are
  256 px): isolated microaneurysms and small haemorrhages, which separate mild from no
  DR, are often below what it can see; grade 0 vs 1 is the weakest distinction.
- **Colour discarded.** Preprocessing keeps only the green channel (equalised), which
  aligns cameras and the equalised EyePACS set but cannot use colour cues (e.g. yellow
  exudates vs. drusen).
- **Quality gate trained on synthetic degradations.** It is measured on the same kinds
  of degradations; real ungradable photographs (eyelashes, small pupils, reflections,
  mixed problems) can pass it, and some odd but gradable photographs are rejected.
- **Severe disease can look like a bad photograph.** Vitreous haemorrhage and other
  advanced disease (SRahim's "ADED" class) can be rejected by the quality gate (1 of the
  3 ADED images in the SRahim test split was). An ungradable result must lead to a retake
  or a referral, never be read as "no DR".
- **Mild vs no DR** is where most grading errors are (see the confusion matrix); the
  quadratic kappa is carried by the moderate-or-worse grades.
- **Field detection** needs a fundus disc on a dark surround; widefield, smartphone
  or heavily cropped images without a dark surround are rejected as "no fundus field".
- **DME** is learned from 416 SRahim maculopathy labels only (no OCT): weak.
- **Lesion maps** are coarse (16x16) and learned from 54 IDRiD images plus weak labels:
  treat them as hints, not segmentations.
"""


def _f(x: Any, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _ci(block: dict[str, Any]) -> str:
    lo, hi = block.get("auc_ci95") or (None, None)
    return f"{_f(block.get('auc'))} ({_f(lo)}-{_f(hi)})"


def _row(name: str, ev: dict[str, Any]) -> str:
    ref, grade = ev["referable"], ev["grade"]
    return (
        f"| {name} | {ev['n_images']} | {ref['positives']} | {_ci(ref)} | "
        f"{_f(ref['sensitivity'])} | {_f(ref['specificity'])} | "
        f"{_f(grade['quadratic_kappa'])} | {_f(grade['accuracy'])} | {ev['n_rejected']} |"
    )


def _confusion(ev: dict[str, Any]) -> str:
    m = ev["grade"]["confusion_gradable"]
    rej = ev["grade"]["rejected_by_true_grade"]
    lines = [
        "| true \\ predicted | 0 | 1 | 2 | 3 | 4 | rejected |",
        "|---|---|---|---|---|---|---|",
    ]
    for k, row in enumerate(m):
        lines.append(f"| {k} | " + " | ".join(str(v) for v in row) + f" | {rej[k]} |")
    return "\n".join(lines)


def render(meta: Metadata) -> str:
    m = meta.metrics
    th = meta.thresholds
    sets = [k for k in ("srahim-test", "eyepacs-valid", "srahim-valid") if k in m]
    table = "\n".join(_row(k, m[k]) for k in sets)
    patient = m.get("srahim-test", {}).get("patient")
    dme = m.get("srahim-test", {}).get("dme")
    qg = m.get("quality_gate", {}).get("held_out", {})
    ex = m.get("export", {})
    agree = ex.get("int8_vs_fp32", {})
    parts = [
        f"# Model card: {meta.name} {meta.version}",
        "",
        meta.description,
        "",
        "## Intended use",
        "",
        "Research and demonstration of the DeepDR-FHIR pipeline. **Not for clinical use**: not "
        "a medical device, not validated prospectively or on any population. Every output is "
        "written to the EHR as *preliminary* and needs a clinician's sign-off.",
        "",
        "## Inputs and outputs",
        "",
        f"- Input: `{meta.input.name}` {list(meta.input.shape)} float32. Preprocessing "
        f"`{meta.preprocessing.method}`: {meta.preprocessing.description}.",
        "- Outputs: " + ", ".join(f"`{o.name}` {list(o.shape)}" for o in meta.outputs) + ".",
        f"- Precision shipped: **{meta.precision}** (ONNX, onnxruntime).",
        "",
        "## Decision thresholds",
        "",
        f"referable >= {th.referable}, DME >= {th.dme}, gradable if quality >= {th.quality} "
        f"and the exposure checks pass. {th.how_chosen}.",
        "",
        "## Results",
        "",
        "Rejected images (no fundus field, or failed quality gate) count as misses for "
        "referable cases and as grade 0 for kappa/accuracy. AUC 95% CI: 1,000-sample "
        "percentile bootstrap over images. Reproduce with `deepdr-fhir evaluate --labels "
        "<data>/fundus/srahim-dr600/labels.csv --images <data>/fundus/srahim-dr600/images "
        "--split test` (and `--labels .../eyepacs-eq256/labels.csv --images "
        ".../eyepacs-eq256 --split valid`).",
        "",
        "| set | images | referable | referable AUC (95% CI) | sensitivity | specificity | "
        "quadratic kappa | accuracy | rejected |",
        "|---|---|---|---|---|---|---|---|---|",
        table,
        "",
        "SRahim valid chose the thresholds, so its sensitivity/specificity are optimistic.",
        "",
    ]
    if patient:
        parts += [
            f"Patient level, SRahim test ({patient['n_patients']} patients, worst eye): referable "
            f"AUC {_ci(patient)}, sensitivity {_f(patient['sensitivity'])}, specificity "
            f"{_f(patient['specificity'])}.",
            "",
        ]
    if dme:
        parts += [f"Maculopathy/DME, SRahim test: AUC {_ci(dme)}.", ""]
    if "srahim-test" in m:
        parts += ["ICDR confusion matrix, SRahim test:", "", _confusion(m["srahim-test"]), ""]
    if qg:
        kinds = ", ".join(f"{k} {v['correct']}/{v['n']}" for k, v in qg["by_kind"].items())
        parts += [
            "## Image-quality gate",
            "",
            f"Held-out generated set ({qg['n']} images): accuracy {_f(qg['accuracy'])}; clean "
            f"photographs kept gradable {_f(qg['clean_kept_gradable'])}; degraded or "
            f"non-fundus images rejected {_f(qg['ungradable_rejected'])}. By kind (correct/n): "
            f"{kinds}. See models/grader/quality_eval.py for how the set is generated.",
            "",
        ]
    if agree:
        parts += [
            "## Export agreement (validation images)",
            "",
            "torch vs ORT fp32: max |d probability| "
            f"{ex.get('torch_vs_ort_fp32_max_abs_diff', 0):.1e}. "
            f"ORT int8 vs fp32: grade agreement {_f(agree.get('grade_agreement'))}, referable "
            f"decision agreement {_f(agree.get('referable_decision_agreement'))}, p99 |d referable "
            f"probability| {_f(agree.get('referable_dprob_p99'))}, AUC fp32 "
            f"{agree.get('referable_auc_reference')} vs int8 {agree.get('referable_auc_candidate')}"
            f" -> agrees: {agree.get('agrees')}; shipped: {ex.get('shipped')}.",
            "",
        ]
    tr = meta.training
    parts += [
        DATA_SECTION,
        "## Training",
        "",
        f"{tr.get('code', '')}; {tr.get('epochs_trained', '?')} epochs, "
        f"{tr.get('train_seconds', '?')} s on 2 shared CPU cores. Recipe in metadata.json "
        "(`training.recipe`).",
        "",
        FAILURE_MODES,
        "## Licence",
        "",
        "\n".join(f"- {k}: {v}" for k, v in meta.licence.items()),
        "",
    ]
    return "\n".join(parts)


def write_model_card(folder: Path, meta: Metadata) -> Path:
    path = folder / "MODEL_CARD.md"
    path.write_text(render(meta), encoding="utf-8")
    return path
