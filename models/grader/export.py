"""Export a trained grader to ONNX (fp32 and static QDQ int8) and measure agreement.

"Agrees" is defined here, before any result was looked at: int8 ships only if, on the
validation images, against ORT fp32:
  - the argmax ICDR grade is the same for >= 97% of images,
  - the referable decision at the fp32 operating point is the same for >= 98%,
  - the 99th percentile of |d referable probability| is <= 0.05,
  - the referable AUC drops by <= 0.01 on every validation set.
torch vs ORT fp32 is a sanity check: max |d probability| <= 1e-3.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
from numpy.typing import NDArray

from models.grader.config import TrainConfig
from models.grader.metrics import roc_auc
from models.grader.network import OUTPUT_NAMES, GraderNet, ProbabilityModel

AGREE_GRADE_MIN = 0.97
AGREE_DECISION_MIN = 0.98
AGREE_DPROB_P99_MAX = 0.05
AGREE_AUC_DROP_MAX = 0.01
TORCH_ORT_MAX_DIFF = 1e-3
INPUT_NAME = "image"


def load_trained(checkpoint: Path) -> tuple[GraderNet, TrainConfig]:
    """GraderNet with the EMA weights of a finished run (runs/<name>/final.pt)."""
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=False)
    cfg = TrainConfig.model_validate(ckpt["config"])
    net = GraderNet(
        backbone=cfg.backbone,
        input_size=cfg.input_size,
        dropout=cfg.dropout,
        pretrained=False,
        frozen_blocks=cfg.frozen_blocks,
    )
    net.load_state_dict(ckpt["state_dict"])
    net.eval()
    return net, cfg


def export_onnx(net: GraderNet, path: Path, tta: str = "none", referable: str = "head") -> Path:
    """fp32 ONNX with a dynamic batch axis; outputs in OUTPUT_NAMES order."""
    model = ProbabilityModel(net, tta=tta, referable=referable).eval()
    side = net.input_size
    example = torch.zeros(2, 3, side, side)
    path.parent.mkdir(parents=True, exist_ok=True)
    batch = torch.export.Dim("batch", min=1, max=1024)
    with warnings.catch_warnings():
        # torch's exporter trips deprecation notices inside torch itself; not ours to fix.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=True,
            external_data=False,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_shapes={"x": {0: batch}},
            optimize=True,
            verbose=False,
        )
    return path


class _Calibration:
    """onnxruntime CalibrationDataReader over preprocessed training images."""

    def __init__(self, tensors: NDArray[np.float32], batch: int = 8) -> None:
        self.batches = [tensors[i : i + batch] for i in range(0, len(tensors), batch)]
        self.i = 0

    def get_next(self) -> dict[str, NDArray[np.float32]] | None:
        if self.i >= len(self.batches):
            return None
        self.i += 1
        return {INPUT_NAME: self.batches[self.i - 1]}

    def rewind(self) -> None:
        self.i = 0


def quantize_int8(fp32: Path, int8: Path, calibration: NDArray[np.float32]) -> Path:
    """Static QDQ quantisation: int8 weights per channel, uint8 activations (the layout
    onnxruntime's CPU kernels run fastest), calibrated on training images."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepped = int8.with_suffix(".pre.onnx")
    quant_pre_process(str(fp32), str(prepped), skip_symbolic_shape=True)
    quantize_static(
        str(prepped),
        str(int8),
        _Calibration(calibration),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        nodes_to_exclude=head_nodes(prepped),
    )
    prepped.unlink(missing_ok=True)
    return int8


def head_nodes(model_path: Path) -> list[str]:
    """Nodes between the last activation (Clip = ReLU6) and each graph output: the heads,
    pooling and the softmax/sigmoids. Kept in float so probabilities are not rounded to
    1/255 steps; they are a negligible share of the compute."""
    import onnx

    graph = onnx.load(str(model_path)).graph
    producer = {out: node for node in graph.node for out in node.output}
    keep: dict[str, None] = {}
    stack = [producer[o.name] for o in graph.output if o.name in producer]
    while stack:
        node = stack.pop()
        if node.op_type == "Clip" or node.name in keep:
            continue
        keep[node.name] = None
        stack += [producer[i] for i in node.input if i in producer]
    return list(keep)


def ort_session(path: Path, threads: int = 2) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def run_ort(
    session: ort.InferenceSession, x: NDArray[np.float32], batch: int = 16
) -> dict[str, NDArray[np.float32]]:
    parts: dict[str, list[NDArray[np.float32]]] = {n: [] for n in OUTPUT_NAMES}
    for i in range(0, len(x), batch):
        for name, v in zip(
            OUTPUT_NAMES,
            session.run(list(OUTPUT_NAMES), {INPUT_NAME: x[i : i + batch]}),
            strict=True,
        ):
            parts[name].append(np.asarray(v, np.float32))
    return {k: np.concatenate(v) for k, v in parts.items()}


@torch.no_grad()
def run_torch(
    net: GraderNet,
    x: NDArray[np.float32],
    tta: str = "none",
    batch: int = 16,
    referable: str = "head",
) -> dict[str, NDArray[np.float32]]:
    model = ProbabilityModel(net, tta=tta, referable=referable).eval()
    parts: dict[str, list[NDArray[np.float32]]] = {n: [] for n in OUTPUT_NAMES}
    for i in range(0, len(x), batch):
        outs = model(torch.from_numpy(x[i : i + batch]))
        for name, v in zip(OUTPUT_NAMES, outs, strict=True):
            parts[name].append(v.numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}


@dataclass(frozen=True)
class Agreement:
    grade_agreement: float
    decision_agreement: float
    dprob_p99: float
    dprob_max: float
    auc_reference: dict[str, float]
    auc_candidate: dict[str, float]

    def agrees(self) -> bool:
        drops = [
            self.auc_reference[k] - self.auc_candidate[k]
            for k in self.auc_reference
            if not np.isnan(self.auc_reference[k])
        ]
        return (
            self.grade_agreement >= AGREE_GRADE_MIN
            and self.decision_agreement >= AGREE_DECISION_MIN
            and self.dprob_p99 <= AGREE_DPROB_P99_MAX
            and all(d <= AGREE_AUC_DROP_MAX for d in drops)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "grade_agreement": round(self.grade_agreement, 4),
            "referable_decision_agreement": round(self.decision_agreement, 4),
            "referable_dprob_p99": round(self.dprob_p99, 4),
            "referable_dprob_max": round(self.dprob_max, 4),
            "referable_auc_reference": {k: round(v, 4) for k, v in self.auc_reference.items()},
            "referable_auc_candidate": {k: round(v, 4) for k, v in self.auc_candidate.items()},
            "agrees": self.agrees(),
        }


def agreement(
    reference: dict[str, NDArray[np.float32]],
    candidate: dict[str, NDArray[np.float32]],
    groups: dict[str, NDArray[np.bool_]],
    referable_labels: NDArray[np.int64],
    threshold: float,
) -> Agreement:
    """Compare two runs over the same images; `groups` selects each validation set."""
    ref_p, cand_p = reference["referable_prob"], candidate["referable_prob"]
    d = np.abs(ref_p - cand_p)
    return Agreement(
        grade_agreement=float(
            (reference["grade_probs"].argmax(1) == candidate["grade_probs"].argmax(1)).mean()
        ),
        decision_agreement=float(((ref_p >= threshold) == (cand_p >= threshold)).mean()),
        dprob_p99=float(np.percentile(d, 99)),
        dprob_max=float(d.max()),
        auc_reference={k: roc_auc(referable_labels[m], ref_p[m]) for k, m in groups.items()},
        auc_candidate={k: roc_auc(referable_labels[m], cand_p[m]) for k, m in groups.items()},
    )


def max_abs_diff(a: dict[str, NDArray[np.float32]], b: dict[str, NDArray[np.float32]]) -> float:
    return float(max(np.abs(a[k] - b[k]).max() for k in OUTPUT_NAMES))
