"""One training step on a few real images, resume, ONNX export (fp32 + int8), and the
exported graph agreeing with torch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from models.grader import export  # noqa: E402
from models.grader.config import RECIPES  # noqa: E402
from models.grader.network import OUTPUT_NAMES  # noqa: E402
from models.grader.train import train  # noqa: E402


@pytest.mark.slow
def test_one_step_train_resume_export(fundus_dir: Path, tmp_path: Path) -> None:
    cfg = RECIPES["smoke"]
    run = tmp_path / "run"
    data_dir = fundus_dir.parent
    out = train(cfg, run, data_dir, resume=False, pretrained=False, cache_dir=tmp_path / "cache")
    assert len(out["history"]) == 1
    assert {"config.json", "metrics.json", "last.pt", "final.pt"} <= {p.name for p in run.iterdir()}
    first = json.loads((run / "metrics.json").read_text())[0]
    assert first["step"] == 1 and np.isfinite(first["train_loss"]["grade_ce"])

    # Resume: a second epoch continues from the checkpoint instead of starting over.
    more = cfg.model_copy(update={"epochs": 2})
    out2 = train(more, run, data_dir, resume=True, pretrained=False, cache_dir=tmp_path / "cache")
    assert [h["epoch"] for h in out2["history"]] == [1, 2] and out2["history"][1]["step"] == 2

    net, loaded_cfg = export.load_trained(run / "final.pt")
    assert loaded_cfg.input_size == cfg.input_size
    fp32 = export.export_onnx(net, tmp_path / "fp32.onnx", tta="flip")
    side = cfg.input_size
    x = np.random.default_rng(0).uniform(-1, 1, (3, 3, side, side)).astype(np.float32)
    got = export.run_ort(export.ort_session(fp32, threads=1), x)
    want = export.run_torch(net, x, tta="flip")
    assert set(got) == set(OUTPUT_NAMES)
    assert export.max_abs_diff(got, want) < export.TORCH_ORT_MAX_DIFF
    assert got["lesion_maps"].shape == (3, 4, side // 16, side // 16)

    int8 = export.quantize_int8(fp32, tmp_path / "int8.onnx", x)
    q = export.run_ort(export.ort_session(int8, threads=1), x)
    assert q["grade_probs"].shape == (3, 5)
    assert np.allclose(q["grade_probs"].sum(1), 1.0, atol=1e-3)
    assert int8.stat().st_size < fp32.stat().st_size
