"""Local vs remote grader: ms per image at batch 1 and 8, for the network call alone and for
grade() end to end (preprocessing + network + postprocessing), with the network in-process
(onnxruntime) or on the local KServe v2 server in its own process over loopback HTTP
(binary tensors and JSON). Prints figures; asserts nothing.

    .venv/bin/python scripts/benchmark_remote_grader.py [--bundle DIR] [--rounds 20] [--threads 1]

Default model: a stand-in bundle built here with the reference input size (3x256x256
float32, 768 KiB per image) and every output kind, behind a small convolution, so the
figures show what the protocol costs on top of the network; give --bundle for a trained
one. Both sides use the same number of onnxruntime threads.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from models.grader.predict import Predictor, load_predictor
from plugin.inference.kserve_v2 import KServeV2Runner
from plugin.local_servers.kserve_v2 import LocalKServeV2Process

SIDE = 256


def build_standin_bundle(folder: Path, side: int = SIDE) -> Path:
    """A bundle with the reference input size: conv 3->16 (stride 4) + pooling heads."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    f32 = TensorProto.FLOAT

    def const(name: str, arr: np.ndarray) -> onnx.TensorProto:
        return numpy_helper.from_array(arr.astype(np.float32), name)

    inits = [
        const("w_conv", rng.normal(0, 0.2, (16, 3, 7, 7))),
        const("w_grade", rng.normal(0, 0.5, (16, 5))),
        const("w_ref", rng.normal(0, 0.5, (16, 1))),
        const("w_dme", rng.normal(0, 0.5, (16, 1))),
        const("w_qual", rng.normal(0, 0.1, (16, 1))),
        const("b_qual", np.array([3.0])),
        const("w_les", rng.normal(0, 0.5, (16, 4))),
        const("w_map", rng.normal(0, 0.5, (4, 16, 1, 1))),
        numpy_helper.from_array(np.array([-1], np.int64), "flat"),
    ]
    maps = side // 16
    nodes = [
        helper.make_node("Conv", ["image", "w_conv"], ["c"], strides=[4, 4], pads=[3, 3, 3, 3]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["pooled"]),
        helper.make_node("MatMul", ["pooled", "w_grade"], ["g"]),
        helper.make_node("Softmax", ["g"], ["grade_probs"], axis=1),
        helper.make_node("MatMul", ["pooled", "w_ref"], ["ref0"]),
        helper.make_node("Reshape", ["ref0", "flat"], ["ref1"]),
        helper.make_node("Sigmoid", ["ref1"], ["referable_prob"]),
        helper.make_node("MatMul", ["pooled", "w_dme"], ["d0"]),
        helper.make_node("Reshape", ["d0", "flat"], ["d1"]),
        helper.make_node("Sigmoid", ["d1"], ["dme_prob"]),
        helper.make_node("MatMul", ["pooled", "w_qual"], ["q0"]),
        helper.make_node("Add", ["q0", "b_qual"], ["q1"]),
        helper.make_node("Reshape", ["q1", "flat"], ["q2"]),
        helper.make_node("Sigmoid", ["q2"], ["quality_prob"]),
        helper.make_node("MatMul", ["pooled", "w_les"], ["l0"]),
        helper.make_node("Sigmoid", ["l0"], ["lesion_probs"]),
        helper.make_node("AveragePool", ["r"], ["small"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Conv", ["small", "w_map"], ["m0"]),
        helper.make_node("Sigmoid", ["m0"], ["lesion_maps"]),
    ]
    shapes: dict[str, list[int | str]] = {
        "grade_probs": ["batch", 5],
        "referable_prob": ["batch"],
        "dme_prob": ["batch"],
        "quality_prob": ["batch"],
        "lesion_probs": ["batch", 4],
        "lesion_maps": ["batch", 4, maps, maps],
    }
    graph = helper.make_graph(
        nodes,
        "standin-grader",
        [helper.make_tensor_value_info("image", f32, ["batch", 3, side, side])],
        [helper.make_tensor_value_info(k, f32, v) for k, v in shapes.items()],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))
    meta = {
        "name": "standin",
        "version": "0.0.1",
        "input": {"name": "image", "shape": ["batch", 3, side, side]},
        "outputs": [{"name": k, "kind": k, "shape": v} for k, v in shapes.items()],
        "thresholds": {"referable": 0.5, "dme": 0.5, "quality": 0.5},
    }
    (folder / "metadata.json").write_text(json.dumps(meta))
    return folder


def fundus(seed: int, size: int = 512) -> np.ndarray:
    """A synthetic photograph (textured disc on black) whose field the predictor finds."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    disc = np.hypot(yy - size / 2, xx - size / 2) < size * 0.42
    img = np.zeros((size, size, 3), np.float32)
    img[disc] = np.array([170, 70, 30], np.float32) * rng.uniform(0.7, 1.2)
    img += rng.normal(0, 12, img.shape) * disc[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def ms_per_image(call: Callable[[], object], images: int, rounds: int) -> float:
    call()  # warm-up (sessions, connections)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000 / images)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, help="a trained bundle (default: a stand-in)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads, each side")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        bundle = args.bundle or build_standin_bundle(Path(tmp) / "standin-0.0.1")
        local = load_predictor(bundle, threads=args.threads)
        side = local.side
        photos = [fundus(seed) for seed in range(8)]
        tensors = np.stack([local.prepare(p).tensor for p in photos])
        print(
            f"model {local.model.name} {local.model.version}: input 3x{side}x{side} float32 "
            f"({tensors[0].nbytes / 1024:.0f} KiB per image); onnxruntime threads {args.threads}"
            f"; median of {args.rounds} rounds; 2 shared CPU cores"
        )
        with LocalKServeV2Process(bundle, threads=args.threads) as server:
            rows: list[tuple[str, Predictor]] = [("local onnxruntime", local)]
            for label, binary in (("remote v2 binary", True), ("remote v2 JSON", False)):
                runner = KServeV2Runner(server.url, local.model.name, binary=binary, timeout_s=60)
                rows.append((label, load_predictor(bundle, runner=runner, batch_size=8)))
            print(f"\n{'':<22}{'network ms/image':>22}{'grade() ms/image':>22}")
            print(f"{'':<22}{'batch 1':>11}{'batch 8':>11}{'batch 1':>11}{'batch 8':>11}")
            for label, predictor in rows:
                figures = [
                    ms_per_image(lambda p=predictor: p.run(tensors[:1]), 1, args.rounds),
                    ms_per_image(lambda p=predictor: p.run(tensors), 8, args.rounds),
                    ms_per_image(lambda p=predictor: p.grade(photos[:1]), 1, args.rounds),
                    ms_per_image(lambda p=predictor: p.grade(photos), 8, args.rounds),
                ]
                print(f"{label:<22}" + "".join(f"{v:>11.2f}" for v in figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
