"""Grader speed on this machine, in one run: ms/image and images/s for torch eager vs
onnxruntime fp32 vs onnxruntime int8, at batch 1 and 8; preprocessing (decode + field +
crop + normalise) timed on its own; and end to end through the shipped bundle's predictor.

    .venv/bin/python scripts/benchmark_grader.py [--run runs/cpu] [--bundle DIR]
        [--threads 2] [--images 48] [--repeats 3]

Prints figures only (no assertions). Without a finished run the network is an untrained
GraderNet of the CPU recipe (same speed). Close other work for stable numbers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.grader import export  # noqa: E402
from models.grader.bundle import default_bundle  # noqa: E402
from models.grader.config import RECIPES, default_data_dir  # noqa: E402
from models.grader.images import load_image  # noqa: E402
from models.grader.network import GraderNet, ProbabilityModel  # noqa: E402
from models.grader.predict import Predictor, prepare  # noqa: E402


def _images(n: int) -> list[Path]:
    root = default_data_dir() / "fundus"
    srahim = sorted((root / "srahim-dr600" / "images").glob("*.jpg"))
    eyepacs = sorted((root / "eyepacs-eq256" / "images").glob("*.jpg"))
    picked = srahim[: n // 2] + eyepacs[: n - n // 2]
    if not picked:
        raise SystemExit(f"no images under {root}")
    return picked


def _best(fn: Callable[[], None], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _row(label: str, seconds: float, n: int) -> str:
    return f"{label:<34} {1000 * seconds / n:9.2f} ms/image {n / seconds:9.1f} images/s"


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--run", type=Path, default=REPO / "runs" / "cpu")
    ap.add_argument("--bundle", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    if (args.run / "final.pt").is_file():
        net, cfg = export.load_trained(args.run / "final.pt")
        source = f"trained run {args.run}"
    else:
        cfg = RECIPES["cpu"]
        net = GraderNet(input_size=cfg.input_size, pretrained=False).eval()
        source = "untrained CPU-recipe network (no finished run found)"
    side = cfg.input_size
    bundle = args.bundle or default_bundle()
    tta = "none"
    if bundle is not None:
        tta = str(Predictor(bundle).meta.metrics.get("export", {}).get("tta", "none"))
    paths = _images(args.images)
    n = len(paths)
    print(f"{n} images ({side} px input), {args.threads} threads; network: {source}")
    print(f"test-time augmentation as in the bundle: {tta}")

    decoded = [load_image(p, draft_side=side) for p in paths]
    t_decode = _best(lambda: [load_image(p, draft_side=side) for p in paths], args.repeats)
    t_prep = _best(lambda: [prepare(rgb, side) for rgb in decoded], args.repeats)
    x = np.stack([prepare(rgb, side).tensor for rgb in decoded]).astype(np.float32)
    print("\npreprocessing (per image)")
    print(_row("decode (PIL, JPEG draft)", t_decode, n))
    print(_row("field + crop + normalise", t_prep, n))

    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export.export_onnx(net, Path(tmp) / "fp32.onnx", tta=tta)
        int8 = export.quantize_int8(fp32, Path(tmp) / "int8.onnx", x[: min(32, n)])
        sessions = {
            "onnxruntime fp32": export.ort_session(fp32, args.threads),
            "onnxruntime int8": export.ort_session(int8, args.threads),
        }
        print("\nnetwork only (preprocessed input)")
        for batch in (1, 8):
            model = ProbabilityModel(net, tta=tta).eval()

            def run_torch(b: int = batch, m: ProbabilityModel = model) -> None:
                with torch.no_grad():
                    for i in range(0, n, b):
                        m(torch.from_numpy(x[i : i + b]))

            run_torch()  # warm-up
            print(_row(f"torch eager, batch {batch}", _best(run_torch, args.repeats), n))
            for label, sess in sessions.items():

                def run_ort(s: object = sess, b: int = batch) -> None:
                    for i in range(0, n, b):
                        s.run(None, {export.INPUT_NAME: x[i : i + b]})  # type: ignore[attr-defined]

                run_ort()
                print(_row(f"{label}, batch {batch}", _best(run_ort, args.repeats), n))

    if bundle is None:
        print("\nend to end: no bundle shipped (make_bundle first)")
        return 0
    print(f"\nend to end through the predictor ({bundle.name}: decode, preprocess, network, gate)")
    for batch in (1, 8):
        pred = Predictor(bundle, threads=args.threads, batch_size=batch)
        pred.grade_files(paths[:4])
        t = _best(lambda p=pred: p.grade_files(paths), args.repeats)
        print(_row(f"{pred.meta.precision} bundle, batch {batch}", t, n))
    times = []
    pred = Predictor(bundle, threads=args.threads, batch_size=8)
    for p in paths[:16]:
        t0 = time.perf_counter()
        pred.grade_files([p])
        times.append(time.perf_counter() - t0)
    print(f"single-image latency (median of 16): {1000 * statistics.median(times):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
